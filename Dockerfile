# syntax=docker/dockerfile:1
# Build a static binary, then ship it alone on a distroless base as non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/alertgate ./cmd/alertgate

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/alertgate /usr/local/bin/alertgate
COPY examples/runbooks /etc/alertgate/runbooks
# Config at /etc/alertgate/alertgate.yaml (mount it); JetStream data on a volume.
WORKDIR /var/lib/alertgate
VOLUME ["/var/lib/alertgate"]
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/alertgate"]
CMD ["serve", "--config", "/etc/alertgate/alertgate.yaml"]
