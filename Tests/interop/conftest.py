"""What the interoperability tests share: the shipped librealtime.so through ctypes, as any C
host would call it, with the argument types of every function they use, and a core in memory."""
import ctypes
import os

import pytest

LIB = os.environ.get("RT_LIB", os.path.join(os.path.dirname(__file__), "../../dist/lib/librealtime.so"))


class Bytes(ctypes.Structure):
    """rt_bytes."""
    _fields_ = [("data", ctypes.POINTER(ctypes.c_uint8)), ("len", ctypes.c_size_t)]


class Config(ctypes.Structure):
    """rt_config."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("db_path", ctypes.c_char_p), ("durability", ctypes.c_int),
                ("log_level", ctypes.c_int), ("log_fn", ctypes.c_void_p), ("log_user_data", ctypes.c_void_p)]


@pytest.fixture(scope="session")
def lib():
    rt = ctypes.CDLL(LIB)
    p, size, out = ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(Bytes)
    rt.rt_seal.argtypes = [ctypes.c_void_p, p, p, size, p, size, out]
    rt.rt_open.argtypes = rt.rt_seal.argtypes
    rt.rt_key_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, p, size]
    rt.rt_box_seal.argtypes = [p, p, size, out]
    rt.rt_box_open.argtypes = [p, p, p, size, out]
    rt.rt_token_key_add.argtypes = [ctypes.c_void_p, p, p, size]
    rt.rt_token_public_key.argtypes = [ctypes.c_void_p, p, p]
    rt.rt_token_issue.argtypes = [ctypes.c_void_p, p, p, p, ctypes.c_int, ctypes.c_int64, out]
    rt.rt_token_verify.argtypes = [ctypes.c_void_p, p, size, ctypes.c_int, out]
    rt.rt_bytes_free.argtypes = [out]
    rt.rt_core_open.argtypes = [ctypes.POINTER(Config), ctypes.POINTER(ctypes.c_void_p)]
    rt.rt_core_close.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    return rt


@pytest.fixture()
def core(lib):
    config = Config()
    assert lib.rt_config_init(ctypes.byref(config)) == 0
    handle = ctypes.c_void_p()
    assert lib.rt_core_open(ctypes.byref(config), ctypes.byref(handle)) == 0
    yield handle
    lib.rt_core_close(ctypes.byref(handle))


def take(lib, out):
    """The bytes of an rt_bytes the library filled, freed."""
    data = bytes(out.data[:out.len]) if out.len else b""
    lib.rt_bytes_free(ctypes.byref(out))
    return data
