#!/bin/sh
# Writes ejabberd.yml from the template (the link secret and the domain come from the
# environment, never from the image), starts ejabberd, registers the users named in
# EJABBERD_USERS ("alice:secret bob:secret", for a demo), and stops ejabberd cleanly on SIGTERM.
set -eu
: "${MEGAPHONE_LINK_SECRET:?MEGAPHONE_LINK_SECRET must be set (at least 16 characters, the edge's too)}"
XMPP_DOMAIN="${XMPP_DOMAIN:-localhost}"
CONFIG=/var/lib/ejabberd/ejabberd.yml
umask 077
# sed with | as the separator: a secret must not contain | or a newline.
sed -e "s|@XMPP_DOMAIN@|$XMPP_DOMAIN|g" -e "s|@LINK_SECRET@|$MEGAPHONE_LINK_SECRET|g" \
  /etc/ejabberd/megaphone.yml.template > "$CONFIG"

ejabberdctl --config "$CONFIG" foreground &
pid=$!
trap 'ejabberdctl stop >/dev/null 2>&1; wait "$pid"; exit 0' TERM INT
ejabberdctl started
for pair in ${EJABBERD_USERS:-}; do
  ejabberdctl register "${pair%%:*}" "$XMPP_DOMAIN" "${pair#*:}" || true
done
wait "$pid"
