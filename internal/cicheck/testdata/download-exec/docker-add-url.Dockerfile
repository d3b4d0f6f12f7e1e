# ADD of a URL is a download too: running the file it wrote is
# download-and-exec unless ADD carries --checksum.
FROM debian@sha256:0000000000000000000000000000000000000000000000000000000000000000 AS build
ADD https://get.example/install.sh /tmp/install.sh
RUN sh /tmp/install.sh --prefix /opt
ADD https://tool.example/releases/setup.sh /usr/local/bin/
RUN chmod +x /usr/local/bin/setup.sh && /usr/local/bin/setup.sh
ADD --checksum=sha256:0a4eaa0eecf5f8c050e5bba433f58c052be7587ee8af3e8b3910ef9ab5fbe9f5 https://tool.example/ok.sh /ok.sh
RUN sh /ok.sh
ADD https://data.example/table.csv /data/table.csv
RUN wc -l /data/table.csv

FROM debian@sha256:0000000000000000000000000000000000000000000000000000000000000000
# A new stage: the first stage's /tmp/install.sh is not here.
RUN sh /tmp/install.sh || true
