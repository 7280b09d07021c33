"""Passes the state on untouched."""


def handler(event, context):
    return event
