#!/usr/bin/python3
"""An independent TensorBoard event-file reader and writer for the Go tests.

The Event and Summary messages are built here from their field definitions
in TensorBoard's tensorboard/compat/proto/event.proto and summary.proto (the
subset Vigil writes: Event.wall_time/step/file_version/summary,
Summary.value, Summary.Value.tag/simple_value), with python3-protobuf's
descriptor_pb2 because protoc is not installed; the CRCs are python3-crc32c's.

  events.py read FILE     prints the events as JSON lines, checking every CRC
  events.py golden FILE   writes the golden file the Go writer must reproduce
"""
import json
import struct
import sys

import crc32c
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def build():
    fd = descriptor_pb2.FileDescriptorProto(name="vigil_tb_subset.proto", package="tensorboard", syntax="proto3")
    summary = fd.message_type.add(name="Summary")
    value = summary.nested_type.add(name="Value")
    value.field.add(name="tag", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    value.field.add(name="simple_value", number=2, type=F.TYPE_FLOAT, label=F.LABEL_OPTIONAL, oneof_index=0)
    value.oneof_decl.add(name="value")
    summary.field.add(name="value", number=1, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
                      type_name=".tensorboard.Summary.Value")
    event = fd.message_type.add(name="Event")
    event.field.add(name="wall_time", number=1, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    event.field.add(name="step", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    event.field.add(name="file_version", number=3, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL, oneof_index=0)
    event.field.add(name="summary", number=5, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL, oneof_index=0,
                    type_name=".tensorboard.Summary")
    event.oneof_decl.add(name="what")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    desc = pool.FindMessageTypeByName("tensorboard.Event")
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


Event = build()


def masked(b):
    c = crc32c.crc32c(b)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(data):
    n = struct.pack("<Q", len(data))
    return n + struct.pack("<I", masked(n)) + data + struct.pack("<I", masked(data))


def read(path):
    buf = open(path, "rb").read()
    i = 0
    while i < len(buf):
        n = buf[i:i + 8]
        (length,) = struct.unpack("<Q", n)
        (lcrc,) = struct.unpack("<I", buf[i + 8:i + 12])
        if lcrc != masked(n):
            sys.exit("bad length crc at offset %d" % i)
        data = buf[i + 12:i + 12 + length]
        (dcrc,) = struct.unpack("<I", buf[i + 12 + length:i + 16 + length])
        if len(data) != length or dcrc != masked(data):
            sys.exit("bad data crc at offset %d" % i)
        i += 16 + length
        ev = Event()
        ev.ParseFromString(data)
        out = {"wall_time": ev.wall_time, "step": ev.step}
        if ev.WhichOneof("what") == "file_version":
            out["file_version"] = ev.file_version
        elif ev.WhichOneof("what") == "summary":
            out["scalars"] = {v.tag: v.simple_value for v in ev.summary.value}
        print(json.dumps(out, sort_keys=True))


def golden(path):
    first = Event(wall_time=1764590400.25, file_version="brain.Event:2")
    ev = Event(wall_time=1764590400.25, step=1764590400)
    for tag, v in [("drift/age/statistic", 0.125), ("performance/accuracy", 0.875), ("rows/current", 1200.0)]:
        ev.summary.value.add(tag=tag, simple_value=v)
    with open(path, "wb") as f:
        f.write(frame(first.SerializeToString()) + frame(ev.SerializeToString()))


if __name__ == "__main__":
    {"read": read, "golden": golden}[sys.argv[1]](sys.argv[2])
