# syntax=docker/dockerfile:1
# ejabberd 23.01 (Debian bookworm's package) with mod_megaphone. Build from the repository root:
#   docker build -f docker/ejabberd.Dockerfile -t megaphone-ejabberd .
# The module is compiled by scripts/build-module.sh, the script the integration tests use
# (test/fixtures/ejabberd.ts → scripts/ejabberd.sh → scripts/build-module.sh).
FROM debian:bookworm-slim
# Debian's package would start its own service on install: policy-rc.d forbids it here.
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ejabberd ca-certificates \
 && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d
WORKDIR /opt/megaphone
COPY scripts/build-module.sh scripts/build-module.sh
COPY scripts/lib/ensure-deps.sh scripts/lib/ensure-deps.sh
COPY mod_megaphone mod_megaphone
# Compile against the installed ejabberd, then put the .beam files where ejabberd loads code
# (docs/ejabberd.md "Build").
RUN bash scripts/build-module.sh \
 && cp mod_megaphone/ebin/*.beam "$(ls -d /usr/lib/*/ejabberd-*/ebin | sort | tail -n 1)/"
COPY docker/ejabberd/ejabberd.yml.template /etc/ejabberd/megaphone.yml.template
COPY docker/ejabberd/entrypoint.sh /usr/local/bin/megaphone-ejabberd
RUN chmod 0755 /usr/local/bin/megaphone-ejabberd
# Debian's package runs ejabberd as the `ejabberd` user (home and spool /var/lib/ejabberd).
USER ejabberd
# 5222: XMPP clients. 5288: the Megaphone link (keep it on the private network).
EXPOSE 5222 5288
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["ejabberdctl", "status"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/megaphone-ejabberd"]
