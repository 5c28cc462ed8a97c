"""The studio's server refuses requests without the token, from foreign hosts, or changing state by GET."""

from __future__ import annotations

import http.client
import json
from itertools import islice
from urllib.parse import urlparse

import pytest
from click.testing import CliRunner

from ftdata.cli.app import main
from ftdata.studio.app import StudioServer
from ftdata.studio.session import Studio

from tests.conftest import shared


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("studio_sec")
    rows = folder / "rows.jsonl"
    with open(shared("dialogsum", "dialogsum.dev.jsonl"), encoding="utf-8") as fh:
        rows.write_text("".join(islice(fh, 10)), encoding="utf-8")
    tpl = folder / "t.yaml"
    tpl.write_text("templates:\n- name: s\n  prompt: '{{dialogue}}'\n  completion: '{{summary}}'\n", encoding="utf-8")
    srv = StudioServer(Studio(tpl, rows, key="fname")).start()
    yield srv
    srv.stop()


def request(srv, method, path, *, host=None, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    h = {"Host": host or f"127.0.0.1:{srv.port}", **(headers or {})}
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    conn.request(method, path, body=data, headers=h)
    res = conn.getresponse()
    out = res.status, {k.lower(): v for k, v in res.getheaders()}, res.read().decode()
    conn.close()
    return out


def post_headers(srv, **extra):
    return {"Content-Type": "application/json", "X-Studio-Token": srv.token, **extra}


def test_binds_loopback_and_prints_token_url(server):
    url = urlparse(server.url)
    assert url.hostname == "127.0.0.1" and url.port == server.port
    assert url.query == f"token={server.token}" and len(server.token) >= 24


def test_page_needs_the_token(server):
    assert request(server, "GET", "/")[0] == 403
    assert request(server, "GET", "/?token=wrong")[0] == 403
    status, headers, html = request(server, "GET", f"/?token={server.token}")
    assert status == 200 and "ftdata studio" in html
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"


def test_foreign_host_is_refused_even_with_the_token(server):
    # DNS rebinding: evil.example resolves to 127.0.0.1, the browser sends its own Host
    for host in ("evil.example", f"evil.example:{server.port}", "127.0.0.1:1", "localhost.evil.example"):
        assert request(server, "GET", f"/?token={server.token}", host=host)[0] == 403
        assert request(server, "POST", "/api/render", host=host, headers=post_headers(server), body={})[0] == 403
    assert request(server, "GET", f"/?token={server.token}", host=f"localhost:{server.port}")[0] == 200


def test_changes_need_post_json_and_the_token_header(server):
    body = {"key": None, "row": 0}
    assert request(server, "POST", "/api/render", headers=post_headers(server), body=body)[0] == 200
    # no token, wrong token, token only in the URL (a plain cross-site form could carry that)
    assert request(server, "POST", "/api/save", headers={"Content-Type": "application/json"}, body=body)[0] == 403
    assert request(server, "POST", "/api/save", headers=post_headers(server, **{"X-Studio-Token": "x"}), body=body)[0] == 403
    assert request(server, "POST", f"/api/save?token={server.token}",
                   headers={"Content-Type": "application/json"}, body=body)[0] == 403
    # a form post (text/plain) and a cross-origin page are refused
    assert request(server, "POST", "/api/save", headers=post_headers(server, **{"Content-Type": "text/plain"}),
                   body=b"{}")[0] == 403
    assert request(server, "POST", "/api/save", headers=post_headers(server, Origin="http://evil.example"),
                   body=body)[0] == 403
    # GET never changes anything: the API answers GET with 405 even with the token
    assert request(server, "GET", f"/api/save?token={server.token}")[0] == 405
    assert request(server, "PUT", f"/api/save?token={server.token}", headers=post_headers(server), body=body)[0] == 403
    assert request(server, "OPTIONS", "/api/save")[0] == 403


def test_cli_help_and_user_errors(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["studio", "--help"])
    assert res.exit_code == 0 and "Example:" in res.output and "--source" in res.output
    res = runner.invoke(main, ["studio", str(tmp_path / "t.yaml")])
    assert res.exit_code == 2 and "error:" in res.output and "--source" in res.output
