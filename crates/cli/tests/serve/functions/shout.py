def handler(event, context):
    print("shouting", event.get("word"))
    return event
