# syntax=docker/dockerfile:1
# renewbot: a static binary on a minimal non-root image.
#   docker build --build-arg VERSION=$(git describe --tags --always) -t renewbot .
#   docker run -v renewbot-data:/data -p 8080:8080 -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET \
#     -e RENEWBOT_APPROVERS=U012ABC -e ALIBABA_CLOUD_ACCESS_KEY_ID -e ALIBABA_CLOUD_ACCESS_KEY_SECRET renewbot

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# The same flags .ci/run uses for its static build check.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/renewbot ./cmd/renewbot
# An empty /data owned by the runtime user: a named volume takes this ownership on first use.
RUN mkdir -p /out/data

# distroless static: CA certificates and tzdata, no shell, user nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/renewbot /renewbot
COPY --from=build --chown=65532:65532 /out/data /data
# The bbolt file (and its admin socket, renewbot.db.sock) live on the volume.
VOLUME /data
ENV RENEWBOT_DB=/data/renewbot.db \
    RENEWBOT_LISTEN=:8080
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 CMD ["/renewbot", "healthcheck"]
ENTRYPOINT ["/renewbot"]
CMD ["serve"]
