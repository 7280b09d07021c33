class PaymentDeclined(Exception):
    pass


def handler(event, context):
    raise PaymentDeclined("card expired")
