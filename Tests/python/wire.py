"""The protocol's binary encoding written from docs/protocol.md alone, independent of the server's
code: format byte 1, the type code, then Protocol Buffers wire-format fields (varint key =
number << 3 | wire type; 0 = varint, 2 = length-delimited). The tests decode what the server sends
with it, so a server that drifted from the documented format fails them."""

TYPES = {"connect": 1, "connected": 2, "ping": 3, "pong": 4, "error": 5, "disconnect": 6, "subscribe": 7,
         "subscribed": 8, "unsubscribe": 9, "unsubscribed": 10, "publish": 11, "ack": 12, "message": 13,
         "history": 14, "gap": 15, "receipt": 16, "refresh": 24}
TYPE_NAMES = {code: name for name, code in TYPES.items()}
FIELDS = {1: "id", 2: "v", 3: "token", 4: "client", 5: "data", 6: "code", 7: "message", 8: "reason",
          9: "reconnect", 10: "retry_after_ms", 11: "session", 12: "server", 13: "ping_interval_ms",
          14: "max_message_bytes", 15: "channel", 16: "offset", 17: "epoch", 18: "recovered",
          19: "idempotency_key", 20: "before", 21: "after", 22: "limit", 23: "time", 24: "json", 25: "batch",
          26: "status", 27: "user", 28: "device", 29: "unread", 30: "key"}
FIELD_NUMBERS = {name: number for number, name in FIELDS.items()}
STRINGS = {"token", "client", "message", "reason", "session", "server", "channel", "epoch", "idempotency_key",
           "status", "user", "device", "key"}
BOOLEANS = {"reconnect", "recovered", "json", "batch"}
ERROR_CODES = {1: "bad_request", 2: "unknown_type", 3: "unsupported_version", 4: "not_connected",
               5: "already_connected", 6: "unauthorized", 7: "forbidden", 8: "too_large", 9: "rate_limited",
               10: "internal", 11: "not_found", 12: "try_again", 13: "limit_exceeded"}


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode_binary(type_name, **fields):
    """A binary message; str and bytes values are length-delimited, the rest varints."""
    out = bytearray([1, TYPES[type_name]])
    for name, value in fields.items():
        number = FIELD_NUMBERS[name]
        if isinstance(value, (bytes, str)):
            raw = value.encode() if isinstance(value, str) else value
            out += varint(number << 3 | 2) + varint(len(raw)) + raw
        else:
            out += varint(number << 3) + varint(int(value))
    return bytes(out)


def decode_binary(data):
    """A binary message as a dict (`type` plus its fields); asserts it follows the documented form."""
    assert data[0] == 1, f"format byte {data[0]}"
    assert data[1] in TYPE_NAMES, f"unexpected type code {data[1]} in {data!r}"
    message = {"type": TYPE_NAMES[data[1]]}
    i = 2

    def read_varint():
        nonlocal i
        value, shift = 0, 0
        while True:
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    while i < len(data):
        key = read_varint()
        assert key >> 3 in FIELDS, f"unexpected field {key >> 3} in {data!r}"
        name = FIELDS[key >> 3]
        assert name not in message, f"field {name} twice in {data!r}"
        if key & 7 == 0:
            value = read_varint()
            if name in BOOLEANS:
                assert value in (0, 1), f"boolean {name} = {value}"
                value = bool(value)
            message[name] = value
        else:
            assert key & 7 == 2, f"wire type {key & 7}"
            length = read_varint()
            raw = data[i:i + length]
            assert len(raw) == length, "truncated field"
            i += length
            message[name] = raw.decode() if name in STRINGS else raw
    return message
