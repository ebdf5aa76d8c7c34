"""What a rider's sign-in QR code holds: a prefix the rider page recognises, then the token."""

TOKEN_QR_PREFIX = "NYTOKEN:"


def token_qr_payload(key: str) -> str:
    return f"{TOKEN_QR_PREFIX}{key}"
