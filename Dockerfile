# oauthproxy as a headless capture proxy, e.g. on the server where an OAuth
# flow fails. Build:  docker build -t oauthproxy .
# Run (proxy auth is required because the container listens on all its interfaces):
#   docker run -d --name oauthproxy -p 127.0.0.1:8080:8080 -v oauthproxy-data:/data \
#     -e OAUTHPROXY_PROXY_AUTH='debug:change-me' oauthproxy --har /data/server.har
# The CA is created in /data on first start: docker exec oauthproxy /oauthproxy ca --data-dir /data

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=docker
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/oauthproxy ./cmd/oauthproxy \
 && mkdir -p /out/data && chown 65532:65532 /out/data && chmod 0700 /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/oauthproxy /oauthproxy
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV OAUTHPROXY_HOME=/data HOME=/data
VOLUME ["/data"]
EXPOSE 8080
# Inside the container the proxy must listen on all interfaces, which
# oauthproxy allows only with --allow-remote and proxy authentication
# (OAUTHPROXY_PROXY_AUTH=user:pass, or --proxy-auth). Publish the port on
# 127.0.0.1 of the host unless other machines must reach it.
ENTRYPOINT ["/oauthproxy", "run", "--listen", "0.0.0.0:8080", "--allow-remote", "--data-dir", "/data", "--log-format", "json"]
CMD []
