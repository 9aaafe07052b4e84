"""Parses an OpenMetrics exposition from stdin with the Prometheus Python
client's parser (strict: it refuses what Prometheus would refuse) and
prints its families as JSON: {name: {"type": ..., "samples": [[sample
name, labels, value], ...]}}."""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

families = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    families[f.name] = {
        "type": f.type,
        "samples": [[s.name, s.labels, s.value] for s in f.samples],
    }
json.dump(families, sys.stdout)
