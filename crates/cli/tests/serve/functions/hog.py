def handler(event, context):
    """Asks for more memory than a limited executor may have."""
    hoard = bytearray(event["mib"] << 20)
    return {"got": len(hoard)}
