// The Swagger UI in a real browser: a person's path from /schema to a
// created user, ending in a screenshot to look at.
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const baseUrl = process.env.API_URL;
if (!baseUrl) {
  throw new Error("API_URL is not set");
}
const screenshot = new URL("./output/swagger-ui-create-user.png", import.meta.url).pathname;
mkdirSync(new URL("./output/", import.meta.url).pathname, { recursive: true });

const browser = await chromium.launch({
  // Debian's Chromium: nothing here may download a browser of its own.
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  // The machine has no network beyond the registries: without the
  // background-networking flags Chromium keeps dialling Google and stalls.
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  page.setDefaultTimeout(15_000);

  // The UI must show the OpenAPI 3 document, the one the tests enforce,
  // not swag's Swagger 2.0 one.
  const documents: string[] = [];
  page.on("response", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.endsWith(".json")) documents.push(`${path} ${r.status()}`);
  });
  const answer = await page.goto(`${baseUrl}/schema`);
  if (!page.url().endsWith("/swagger/index.html") || !answer?.ok()) {
    throw new Error(`/schema led to ${page.url()} (${answer?.status()}), not the Swagger UI`);
  }
  console.log(`ok   /schema redirects to ${new URL(page.url()).pathname}`);
  const version = (await page.locator(".info .version-stamp").first().innerText()).trim();
  if (!documents.includes("/schema/openapi.json 200") || documents.some((d) => d.startsWith("/swagger/doc.json")) || !version.startsWith("OAS 3")) {
    throw new Error(`the UI loaded ${JSON.stringify(documents)} and shows "${version}"; want /schema/openapi.json, OAS 3`);
  }
  console.log(`ok   the UI shows /schema/openapi.json (${version})`);

  const operation = page.locator("#operations-users-createUser");
  await operation.locator(".opblock-summary").click();
  await operation.getByRole("button", { name: "Try it out" }).click();

  const email = `browser-${process.pid}-${Date.now()}@example.com`;
  const body = operation.locator("textarea.body-param__text");
  await body.fill(JSON.stringify({ email, name: "Ada from the browser", password: "correct horse" }, null, 2));
  await operation.getByRole("button", { name: "Execute" }).click();

  const response = operation.locator(".live-responses-table .response").first();
  const status = (await response.locator(".response-col_status").innerText()).trim();
  const shown = await response.locator(".response-col_description pre").first().innerText();
  // One screen from the filled-in body down to the live 201 response.
  await body.evaluate((el) => el.scrollIntoView({ block: "start" }));
  await page.screenshot({ path: screenshot });
  console.log(`ok   screenshot at ${screenshot}`);

  if (status !== "201") {
    throw new Error(`Execute answered ${status}, want 201: ${shown}`);
  }
  const user = JSON.parse(shown) as { id?: number; email?: string };
  if (user.email !== email || !user.id) {
    throw new Error(`the response is not the new user: ${shown}`);
  }
  console.log(`ok   POST /users from the Swagger UI answered 201 with user ${user.id}`);
} finally {
  await browser.close();
}
