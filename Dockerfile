# islet: multi-stage image. The build stage runs the README's install command (which builds the
# native addon against this image's Node and the TypeScript); the runtime stage keeps only
# production dependencies plus the built output, and runs `islet serve` as a non-root user.

FROM node:20-bookworm AS build
WORKDIR /app
COPY . .
RUN npm ci \
 && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    ISLET_DATA_DIR=/data \
    ISLET_HOST=0.0.0.0 \
    ISLET_ADMIN_HOST=0.0.0.0
WORKDIR /app
RUN groupadd --system islet && useradd --system --gid islet --home-dir /app islet \
 && mkdir -p /data && chown islet:islet /data
COPY --from=build --chown=islet:islet /app /app
USER islet
VOLUME ["/data"]
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.ISLET_ADMIN_PORT||8081)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "bin/islet.js", "serve"]
