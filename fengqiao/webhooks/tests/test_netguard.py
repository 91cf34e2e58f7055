"""Webhook targets: no SSRF probing of link-local, metadata or (by default) loopback addresses."""

from __future__ import annotations

import pytest

from fengqiao.webhooks.netguard import UnsafeURL, check_url


def fixed(*addresses):
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://10.0.0.1/x",
        "javascript:alert(1)",
        "http:///nohost",
        "http://user:pw@10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://[::ffff:169.254.169.254]/hook",
        "http://0.0.0.0:8000/",
        "http://224.0.0.1/",
        "http://10.0.0.1:99999/",
        "http://10.0.0.1/hook#frag",
    ],
)
def test_refused(url):
    with pytest.raises(UnsafeURL):
        check_url(url, resolve=fixed("10.0.0.1"))


def test_private_networks_allowed_by_default():
    assert check_url("http://10.20.30.40:8080/hook").address == "10.20.30.40"
    assert check_url("https://platform.example/hook", resolve=fixed("192.168.1.5")).address == "192.168.1.5"


def test_host_resolving_to_metadata_refused():
    with pytest.raises(UnsafeURL, match="metadata"):
        check_url("http://innocent.example/hook", resolve=fixed("10.0.0.2", "169.254.169.254"))


def test_unresolvable_host_refused():
    def fail(host, port):
        raise OSError("no such host")

    with pytest.raises(UnsafeURL, match="cannot be resolved"):
        check_url("http://nowhere.invalid/hook", resolve=fail)


def test_loopback_only_when_allowed(settings):
    settings.FENGQIAO_WEBHOOKS = {"allow_loopback": False}
    with pytest.raises(UnsafeURL, match="loopback"):
        check_url("http://127.0.0.1:8000/hook")
    with pytest.raises(UnsafeURL, match="loopback"):
        check_url("http://localhost.example/hook", resolve=fixed("127.0.0.1"))
    settings.FENGQIAO_WEBHOOKS = {"allow_loopback": True}
    assert check_url("http://127.0.0.1:8000/hook").port == 8000


def test_allow_list(settings):
    settings.FENGQIAO_WEBHOOKS = {"allowed": [".gov.cn", "10.8.0.0/16"]}
    assert check_url("https://api.shushan.gov.cn/hook", resolve=fixed("172.16.0.9")).host == "api.shushan.gov.cn"
    assert check_url("http://10.8.1.2/hook").address == "10.8.1.2"
    assert check_url("http://any.example/hook", resolve=fixed("10.8.9.9")).address == "10.8.9.9"
    with pytest.raises(UnsafeURL, match="allowed"):
        check_url("http://10.9.0.1/hook")
    with pytest.raises(UnsafeURL, match="allowed"):
        check_url("https://evil.example/hook", resolve=fixed("172.16.0.9"))
    with pytest.raises(UnsafeURL, match="allowed"):
        check_url("https://gov.cn.evil.example/hook", resolve=fixed("172.16.0.9"))


def test_pinned_url_keeps_host_for_tls():
    t = check_url("https://platform.example:8443/in?x=1", resolve=fixed("10.1.2.3"))
    assert t.pinned_url == "https://10.1.2.3:8443/in?x=1"
    assert t.host_header == "platform.example:8443"
    t6 = check_url("http://platform.example/in", resolve=fixed("fd12::5"))
    assert t6.pinned_url == "http://[fd12::5]/in"
