#!/usr/bin/env python3
# Scrapes URL and parses it with the Prometheus Python client's parsers (Debian's
# python3-prometheus-client): "text" asks for the Prometheus text format 0.0.4 and parses it with
# prometheus_client.parser; "openmetrics" asks for OpenMetrics 1.0 and parses it with the strict
# prometheus_client.openmetrics.parser. Prints one JSON object: {"families": {name: type},
# "samples": [[name, labels, value], ...]}. Any parse error exits non-zero with the message.
import json
import sys
import urllib.request

url, fmt = sys.argv[1], sys.argv[2]
accept = {"text": "text/plain; version=0.0.4",
          "openmetrics": "application/openmetrics-text; version=1.0.0; charset=utf-8"}[fmt]
req = urllib.request.Request(url, headers={"Accept": accept})
with urllib.request.urlopen(req, timeout=30) as r:
    content_type = r.headers.get("Content-Type", "")
    body = r.read().decode("utf-8")
if fmt == "text":
    from prometheus_client.parser import text_string_to_metric_families as parse
    if not content_type.startswith("text/plain"):
        sys.exit("expected text/plain, got " + content_type)
else:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse
    if not content_type.startswith("application/openmetrics-text"):
        sys.exit("expected application/openmetrics-text, got " + content_type)
families = {}
samples = []
for family in parse(body):
    families[family.name] = family.type
    for s in family.samples:
        samples.append([s.name, s.labels, s.value])
print(json.dumps({"families": families, "samples": samples}))
