"""The Hub probe tells a listening hub or proxy from none (a local socket, no network)."""

from __future__ import annotations


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_hub_probe_tells_a_listening_hub_or_proxy_from_none(monkeypatch):
    """The probe behind the fast offline error: a port that takes connections is reachable
    (the Hub itself, or the proxy the environment names for it); a closed one is not."""
    import socket

    from huggingface_hub import constants

    from ftdata.tokenize.tokenizer import hub_unreachable

    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
        assert hub_unreachable() is None
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
        assert "cannot connect to 127.0.0.1:" in hub_unreachable()
        monkeypatch.setattr(constants, "ENDPOINT", "https://hub.invalid")  # reached through the proxy only
        monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{port}")
        assert hub_unreachable() is None
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{_closed_port()}")
    assert "(the proxy)" in hub_unreachable()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert hub_unreachable() == "HF_HUB_OFFLINE is set"
