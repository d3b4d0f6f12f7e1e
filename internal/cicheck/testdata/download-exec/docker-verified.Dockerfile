# Downloads checked against a digest or a signature before they run.
FROM debian@sha256:0000000000000000000000000000000000000000000000000000000000000000
RUN curl -fsSLo /tmp/y.sh https://x.example/y.sh \
    && echo "0a4eaa0eecf5f8c050e5bba433f58c052be7587ee8af3e8b3910ef9ab5fbe9f5  /tmp/y.sh" | sha256sum -c - \
    && sh /tmp/y.sh
RUN wget -O /tmp/z.sh https://x.example/z.sh && wget -O /tmp/z.sh.asc https://x.example/z.sh.asc \
    && gpg --verify /tmp/z.sh.asc /tmp/z.sh && bash /tmp/z.sh
RUN curl -fsSLo /tmp/n.sh https://x.example/n.sh && sh /tmp/n.sh
