"""The rules builder: golden iptables-restore text for the Kubernetes chain layout, diffs, parsing."""

from __future__ import annotations

import pytest

from kubelite.proxy.rules import (
    JUMPS,
    Endpoint,
    ProxyConfig,
    RuleError,
    build_tables,
    parse_save,
    render_restore,
    sep_chain,
    service_ports,
    slice_endpoints,
    svc_chain,
)

WEB = {"metadata": {"namespace": "default", "name": "web"},
       "spec": {"type": "NodePort", "clusterIP": "10.43.0.20",
                "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080}]}}
WEB_SLICE = {"addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
             "endpoints": [{"addresses": ["10.42.1.5"], "conditions": {"ready": True}, "nodeName": "n1"},
                           {"addresses": ["10.42.2.7"], "conditions": {"ready": True}, "nodeName": "n2"},
                           {"addresses": ["10.42.1.6"], "conditions": {"ready": False}, "nodeName": "n1"}]}
DOWN = {"metadata": {"namespace": "default", "name": "down"},
        "spec": {"clusterIP": "10.43.0.21", "ports": [{"port": 80}]}}
CFG = ProxyConfig(node_ips=["10.45.0.2"], node_name="n1")

GOLDEN = """*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
-A KUBE-SERVICES -m comment --comment "default/down: has no endpoints" -d 10.43.0.21/32 -m tcp -p tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-TL6HGMALSKADNKEV - [0:0]
:KUBE-SEP-EWH65ZSMXYE7WTAL - [0:0]
:KUBE-SEP-VYJTHYA46OGNYWBW - [0:0]
:KUBE-EXT-TL6HGMALSKADNKEV - [0:0]
-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -d 10.43.0.20/32 -m tcp -p tcp --dport 80 -j KUBE-SVC-TL6HGMALSKADNKEV
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports" -d 10.45.0.2/32 -j KUBE-NODEPORTS
-A KUBE-NODEPORTS -m comment --comment "default/web:http" -m tcp -p tcp --dport 30080 -j KUBE-EXT-TL6HGMALSKADNKEV
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -s 10.42.0.0/16 -d 10.42.0.0/16 -m comment --comment "pod-to-pod traffic keeps its source" -j ACCEPT
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-SVC-TL6HGMALSKADNKEV -m comment --comment "default/web:http cluster IP" -d 10.43.0.20/32 -m tcp -p tcp --dport 80 ! -s 10.42.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SVC-TL6HGMALSKADNKEV -m comment --comment "default/web:http -> 10.42.1.5:8080" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-EWH65ZSMXYE7WTAL
-A KUBE-SVC-TL6HGMALSKADNKEV -m comment --comment "default/web:http -> 10.42.2.7:8080" -j KUBE-SEP-VYJTHYA46OGNYWBW
-A KUBE-SEP-EWH65ZSMXYE7WTAL -m comment --comment "default/web:http" -s 10.42.1.5/32 -j KUBE-MARK-MASQ
-A KUBE-SEP-EWH65ZSMXYE7WTAL -m comment --comment "default/web:http" -m tcp -p tcp -j DNAT --to-destination 10.42.1.5:8080
-A KUBE-SEP-VYJTHYA46OGNYWBW -m comment --comment "default/web:http" -s 10.42.2.7/32 -j KUBE-MARK-MASQ
-A KUBE-SEP-VYJTHYA46OGNYWBW -m comment --comment "default/web:http" -m tcp -p tcp -j DNAT --to-destination 10.42.2.7:8080
-A KUBE-EXT-TL6HGMALSKADNKEV -m comment --comment "masquerade traffic for default/web:http external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-TL6HGMALSKADNKEV -j KUBE-SVC-TL6HGMALSKADNKEV
COMMIT
"""


def _items(*svcs: tuple[dict, list[dict]]) -> list:
    out = []
    for svc, slices in svcs:
        for sp in service_ports(svc):
            out.append((sp, slice_endpoints(sp, slices)))
    return out


def test_a_nodeport_service_and_one_without_endpoints_render_as_kubernetes_chains() -> None:
    assert render_restore(build_tables(_items((WEB, [WEB_SLICE]), (DOWN, [])), CFG)) == GOLDEN


def test_probabilities_split_traffic_evenly_over_three_endpoints() -> None:
    sl = {**WEB_SLICE, "endpoints": [{"addresses": [f"10.42.1.{i}"]} for i in (3, 4, 5)]}
    nat = build_tables(_items((WEB, [sl])), CFG)["nat"]
    rules = nat[svc_chain(service_ports(WEB)[0])]
    assert [r.split("--probability ")[1].split()[0] for r in rules if "probability" in r] == \
        ["0.3333333333", "0.5000000000"]
    assert rules[-1].endswith(sep_chain(service_ports(WEB)[0], Endpoint("10.42.1.5", 8080)))


def test_session_affinity_pins_clients_with_recent() -> None:
    svc = {**WEB, "spec": {**WEB["spec"], "sessionAffinity": "ClientIP",
                           "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}}
    sp = service_ports(svc)[0]
    nat = build_tables(_items((svc, [WEB_SLICE])), CFG)["nat"]
    sep = sep_chain(sp, Endpoint("10.42.1.5", 8080))
    assert f'-m recent --name {sep} --rcheck --seconds 60 --reap -j {sep}' in "\n".join(nat[svc_chain(sp)])
    assert f"-m recent --name {sep} --set -m tcp -p tcp -j DNAT --to-destination 10.42.1.5:8080" in nat[sep][1]


def test_internal_traffic_policy_local_uses_only_this_nodes_endpoints() -> None:
    svc = {**WEB, "spec": {**WEB["spec"], "internalTrafficPolicy": "Local"}}
    text = render_restore(build_tables(_items((svc, [WEB_SLICE])), CFG))
    assert "KUBE-SVL-" in text and "10.42.1.5:8080" in text and "10.42.2.7" not in text
    other = render_restore(build_tables(_items((svc, [WEB_SLICE])), ProxyConfig(node_name="n3")))
    assert "KUBE-SVL-" not in other and "has no endpoints" in other


def test_headless_and_external_name_services_get_no_rules() -> None:
    headless = {"metadata": {"namespace": "a", "name": "h"}, "spec": {"clusterIP": "None", "ports": [{"port": 1}]}}
    ext = {"metadata": {"namespace": "a", "name": "e"}, "spec": {"type": "ExternalName", "externalName": "x.org"}}
    assert service_ports(headless) == [] and service_ports(ext) == []


def test_bad_objects_give_a_clear_error() -> None:
    with pytest.raises(RuleError, match="not an IPv4 address"):
        service_ports({"metadata": {"name": "x"}, "spec": {"clusterIP": "300.1.1.1", "ports": [{"port": 80}]}})
    with pytest.raises(RuleError, match="out of range"):
        service_ports({"metadata": {"name": "x"}, "spec": {"clusterIP": "10.43.0.9", "ports": [{"port": 70000}]}})


def test_nothing_changed_renders_nothing_and_a_removed_service_deletes_its_chains() -> None:
    before = build_tables(_items((WEB, [WEB_SLICE]), (DOWN, [])), CFG)
    assert render_restore(before, before) == ""
    after = build_tables(_items((DOWN, [])), CFG)
    text = render_restore(after, before)
    sp = service_ports(WEB)[0]
    assert f"-X {svc_chain(sp)}" in text and f"-X {sep_chain(sp, Endpoint('10.42.1.5', 8080))}" in text
    assert "KUBE-MARK-MASQ -j" not in text  # unchanged chains are not rewritten
    assert "*filter" not in text            # the filter table did not change


def test_save_output_tells_which_jumps_and_chains_exist() -> None:
    save = """*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SEP-OLD - [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
COMMIT
*filter
:FORWARD ACCEPT [0:0]
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
COMMIT
"""
    chains, present = parse_save(save)
    assert chains["nat"] == {"KUBE-SERVICES", "KUBE-SEP-OLD"}
    assert present == {JUMPS[0], JUMPS[4]}
    text = render_restore(build_tables([], CFG), None, chains, [j for j in JUMPS if j not in present])
    assert "-X KUBE-SEP-OLD" in text
    assert text.count("-I PREROUTING") == 0 and text.count("-I OUTPUT") == 2 and text.count("-I FORWARD") == 1
