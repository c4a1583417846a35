# syntax=docker/dockerfile:1
#
# The API server as a static binary on distroless. Build: docker build -t apitemplate .
# deploy/deploy_test.go keeps this file in step with the code and with
# deploy/k8s (ports, user, subcommands, a static build).

# The tag's major.minor matches go.mod's go line. Official golang images set
# GOTOOLCHAIN=local, so the image must be at least go.mod's version: pull a
# fresh 1.26 (or pin a patch release or a digest) when go.mod moves.
FROM golang:1.26 AS build
WORKDIR /src

# Modules first, in a layer of their own: it is rebuilt only when go.mod or
# go.sum change, not on every edit of the code.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
# CGO off gives a static binary, which is all a distroless/static image can
# run; -trimpath and -s -w drop local paths and debug symbols.
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/server ./cmd/server

# static-debian12 has CA certificates (for sslmode=verify-full), tzdata and a
# nonroot user (65532); no shell, no package manager. Pin a digest in production.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/server /server
USER 65532:65532
# HTTP_ADDR, and METRICS_ADDR as deploy/k8s sets it (/metrics off the public port).
EXPOSE 8080 9090
ENTRYPOINT ["/server"]
# The default subcommand; `docker run IMAGE migrate up` runs another.
CMD ["serve"]
