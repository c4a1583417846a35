// A client generated from the server's own OpenAPI document, written by no one
// here: if the document is wrong about a path, a field or a status, either
// tsc or one of these checks fails.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/api.js";

type Problem = components["schemas"]["Problem"];

const baseUrl = process.env.API_URL;
if (!baseUrl) {
  throw new Error("API_URL is not set");
}
const api = createClient<paths>({ baseUrl });

function check(ok: unknown, what: string, detail?: unknown): asserts ok {
  if (!ok) {
    throw new Error(`client: ${what}${detail === undefined ? "" : `: ${JSON.stringify(detail)}`}`);
  }
  console.log(`ok   ${what}`);
}

const email = `e2e-${process.pid}-${Date.now()}@example.com`;
const password = "correct horse battery";

const signup = await api.POST("/users", { body: { email, name: "E2E Client", password } });
check(signup.response.status === 201 && signup.data, "sign up answers 201 with the user", signup.error);
const user = signup.data;
check(user.email === email && user.id > 0, "the user is the one sent", user);
check(signup.response.headers.get("Location") === `/users/${user.id}`, "Location names the new user");

const login = await api.POST("/auth/login", { body: { email, password } });
check(login.response.status === 200 && login.data, "log in answers 200 with a token", login.error);
check(login.data.token_type === "Bearer" && login.data.expires_in > 0, "the token is a bearer token", login.data);
const auth = { Authorization: `Bearer ${login.data.access_token}` };

const me = await api.GET("/users/me", { headers: auth });
check(me.data?.id === user.id, "GET /users/me is the caller", me.data ?? me.error);

const created = await api.POST("/items", { headers: auth, body: { name: "Teapot", price_cents: 1999 } });
check(created.response.status === 201 && created.data, "create an item answers 201", created.error);
const item = created.data;
check(item.owner_id === user.id && item.description === "", "the item is the caller's, with the default description", item);

const list = await api.GET("/items", { params: { query: { owner_id: user.id, limit: 10 } } });
check(list.data, "list items answers 200", list.error);
check(list.data.total === 1 && list.data.items[0]?.id === item.id, "the list holds the item", list.data);

const updated = await api.PUT("/items/{id}", {
  headers: auth,
  params: { path: { id: item.id } },
  body: { price_cents: 2499, description: null },
});
check(updated.data, "update the item answers 200", updated.error);
check(updated.data.price_cents === 2499 && updated.data.name === "Teapot", "only the price changed", updated.data);

const fetched = await api.GET("/items/{id}", { params: { path: { id: item.id } } });
check(JSON.stringify(fetched.data) === JSON.stringify(updated.data), "GET returns what PUT returned", fetched.data);

const deleted = await api.DELETE("/items/{id}", { headers: auth, params: { path: { id: item.id } } });
check(deleted.response.status === 204, "delete the item answers 204", deleted.error);

const gone = await api.GET("/items/{id}", { params: { path: { id: item.id } } });
const notFound: Problem | undefined = gone.error;
check(gone.response.status === 404 && notFound?.status === 404, "the item is gone", notFound);

const bad = await api.POST("/users", { body: { email: "not-an-email", name: "", password: "short" } });
const problem: Problem | undefined = bad.error;
check(bad.response.status === 400 && problem, "a bad sign-up answers 400", bad.data);
check(bad.response.headers.get("Content-Type")?.startsWith("application/problem+json"), "the 400 is a problem document");
const fields = (problem.errors ?? []).map((e) => e.field).sort();
check(JSON.stringify(fields) === JSON.stringify(["email", "name", "password"]), "the problem names each bad field", problem);

const cleanup = await api.DELETE("/users/{id}", { headers: auth, params: { path: { id: user.id } } });
check(cleanup.response.status === 204, "delete the user answers 204", cleanup.error);
console.log("client: all checks passed");
