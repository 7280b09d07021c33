import os


def handler(event, context):
    # Ends the process the way a crashing C extension or a stray os._exit does.
    os._exit(3)
