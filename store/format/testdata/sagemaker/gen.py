#!/usr/bin/env python3
"""Writes the SageMaker Model Monitor fixtures of this directory: data capture
records (captureData.endpointInput/endpointOutput with observedContentType,
mode, data and encoding CSV|JSON|BASE64; eventMetadata.eventId/inferenceTime/
inferenceId; eventVersion) and ground-truth records (groundTruthData.data/
encoding/observedContentType, eventMetadata.eventId, eventVersion), as the
SageMaker documentation describes them, plus a few malformed lines.
Run: cd store/format/testdata/sagemaker && python3 gen.py"""
import base64
import json


def rec(eid, t, inp, out, iid=None):
    md = {"eventId": eid, "inferenceTime": t}
    if iid:
        md["inferenceId"] = iid
    return json.dumps({"captureData": {"endpointInput": inp, "endpointOutput": out},
                       "eventMetadata": md, "eventVersion": "0"})


def csvin(d): return {"observedContentType": "text/csv", "mode": "INPUT", "data": d, "encoding": "CSV"}
def csvout(d): return {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT", "data": d, "encoding": "CSV"}
def jin(o): return {"observedContentType": "application/json", "mode": "INPUT", "data": json.dumps(o), "encoding": "JSON"}
def jout(o): return {"observedContentType": "application/json", "mode": "OUTPUT", "data": json.dumps(o), "encoding": "JSON"}
def b64(s): return base64.b64encode(s.encode()).decode()


def write(name, lines):
    with open(name, "w") as f:
        f.write("\n".join(lines) + "\n")


write("capture-csv.jsonl", [
    rec("a1", "2026-03-01T10:00:05Z", csvin("34,pro,120.5"), csvout("0.91"), "req-1"),
    rec("a2", "2026-03-01T10:01:00Z", csvin("51,basic,"), csvout("0.12")),
    "this line is not JSON",
    json.dumps({"captureData": {"endpointOutput": csvout("0.5")}, "eventMetadata": {"eventId": "no-input"}, "eventVersion": "0"}),
    rec("a3", "2026-03-01T10:02:00Z", csvin("29,pro,80\n45,basic,10"), csvout("0.7\n0.2")),
])
write("capture-json.jsonl", [
    rec("b1", "2026-03-01T10:00:00Z", jin({"age": 34, "plan": "pro"}), jout({"predicted_label": 1, "score": 0.91})),
    rec("b2", "2026-03-01T10:00:30Z", jin({"instances": [{"age": 51, "plan": "basic"}, {"age": 22, "plan": "pro"}]}),
        jout({"predictions": [{"predicted_label": 0, "score": 0.12}, {"predicted_label": 1, "score": 0.77}]})),
    rec("b3", "2026-03-01T10:01:00Z", jin({"instances": [{"age": 1}, {"age": 2}]}), jout({"predictions": [{"score": 0.5}]})),
])
write("capture-base64.jsonl", [
    rec("c1", "2026-03-01T10:00:00Z",
        {"observedContentType": "text/csv", "mode": "INPUT", "data": b64("34,pro,120.5"), "encoding": "BASE64"},
        {"observedContentType": "application/json", "mode": "OUTPUT", "data": b64(json.dumps([0.91])), "encoding": "BASE64"}),
    rec("c2", "2026-03-01T10:00:01Z",
        {"observedContentType": "text/csv", "mode": "INPUT", "data": "%%%not base64", "encoding": "BASE64"}, csvout("0.1")),
])


def gt(eid, data, enc, ct):
    g = {"data": data, "encoding": enc}
    if ct:
        g["observedContentType"] = ct
    return json.dumps({"groundTruthData": g, "eventMetadata": {"eventId": eid}, "eventVersion": "0"})


write("groundtruth.jsonl", [
    gt("a1", "1", "CSV", "text/csv"),
    gt("a2", json.dumps({"label": 0}), "JSON", "application/json"),
    gt("b1", b64("1"), "BASE64", None),
    gt("", "1", "CSV", None),
])
