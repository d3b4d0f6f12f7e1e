FROM debian:bookworm
RUN apt-get update \
    && apt-get install -y curl \
# a comment inside the continuation
    && curl -fsSL https://get.tool.example/install.sh \
       | bash -s -- --yes
RUN ["/bin/sh", "-c", "wget -qO- https://setup.example/x | sh"]
RUN <<EOT
set -e
curl -o /tmp/i.sh https://setup.example/i.sh
sh /tmp/i.sh
EOT
RUN <<-"SCRIPT" bash
	echo fine
	SCRIPT
RUN curl -fsSLo /usr/local/bin/jq https://dl.example/jq && chmod +x /usr/local/bin/jq
