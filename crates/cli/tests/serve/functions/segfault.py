import ctypes


def handler(event, context):
    ctypes.string_at(0)
