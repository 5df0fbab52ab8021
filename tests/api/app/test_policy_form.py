"""The 政策要素 form's API: choices in Chinese, a catalog policy read into the form and written
back as the same YAML rules, decision-table problems per row, and clear refusals."""

from __future__ import annotations

from typing import Any

from tests.api.app.world import CATALOG, World

ALLOWANCE = (CATALOG / "bj-elderly-allowance.yaml").read_text(encoding="utf-8")


def _post(world: World, path: str, body: dict[str, Any], lang: str = "zh") -> Any:
    return world.client.post(
        f"/api/v1/policies/form/{path}?lang={lang}", json=body, headers=world.as_("officer")
    )


def test_the_choices_are_the_schema_the_tag_library_and_the_parameters_in_chinese(
    world: World,
) -> None:
    answer = world.client.get("/api/v1/policies/form/choices", headers=world.as_("officer"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    status = next(f for f in body["fields"]["resident"] if f["name"] == "subsistence_status")
    assert status["zh"] == "社会救助类别" and "特困" in status["values_zh"]
    assert any(f["name"] == "household.housing" for f in body["fields"]["resident"])
    parent = next(t for t in body["tags"]["resident"] if t["id"] == "new_parent")
    assert parent["zh"] == "新生儿父母" and parent["about_zh"]
    allowance = next(p for p in body["parameters"] if p["name"] == "elderly_allowance")
    assert allowance["zh"] == "高龄津贴" and allowance["brackets"] == ["80", "90", "100"]
    assert [m["zh"] for m in body["modes"]] == ["免申即享", "服务找人", "直达快享"]
    assert "养老" in body["categories"]


def test_a_catalog_policy_reads_into_the_form_and_writes_back(world: World) -> None:
    read = _post(world, "read", {"document": ALLOWANCE})
    assert read.status_code == 200, read.text
    form = read.json()["form"]
    assert form["mode"] == "auto_grant"
    assert form["conditions"]["rows"][0] == {
        "type": "row", "subject": "age", "operator": "ge", "value": {"number": "80"}
    }  # fmt: skip
    written = _post(world, "write", {"form": form})
    assert written.status_code == 200, written.text
    document = written.json()["document"]
    assert "eligibility: 'age >= 80 and hukou_city == \"北京市\"'" in document
    assert "benefit: 'parameters.elderly_allowance[age]'" in document
    valid = world.client.post(
        "/api/v1/policies/validate", json={"document": document}, headers=world.as_("officer")
    )
    assert valid.json()["valid"] is True


def test_a_document_the_form_cannot_show_gets_a_note_in_the_page_language(world: World) -> None:
    regex = ALLOWANCE.replace('hukou_city == "北京市"', 'hukou_district =~ "^西"')
    zh = _post(world, "read", {"document": regex}).json()
    assert zh["form"] is None and "YAML 编辑器" in zh["note"]
    en = _post(world, "read", {"document": regex}, lang="en").json()
    assert "YAML editor" in en["note"]


def test_table_rows_are_checked_and_a_bad_form_is_a_clear_422(world: World) -> None:
    form = _post(world, "read", {"document": ALLOWANCE}).json()["form"]
    row = {"type": "group", "join": "all"}
    form["amount"] = {
        "kind": "table",
        "table": {
            "tiers": [
                {"when": {**row, "rows": [{"type": "row", "subject": "age", "operator": "ge",
                                           "value": {"number": "90"}}]},
                 "amount": {"number": "500"}},
                {"when": {**row, "rows": [{"type": "row", "subject": "age", "operator": "ge",
                                           "value": {"number": "100"}}]},
                 "amount": {"number": "800"}},
            ],
            "otherwise": {"number": "100"},
        },
    }  # fmt: skip
    written = _post(world, "write", {"form": form})
    assert written.status_code == 200, written.text
    problems = written.json()["table"]
    assert [(p["tier"], p["severity"]) for p in problems] == [(2, "error")]
    assert "永远用不到" in problems[0]["message"]
    form["mode"] = "auto_grant"
    form["application_conditions"] = ["未享受其他同类补贴"]
    refused = _post(world, "write", {"form": form})
    assert refused.status_code == 422
    assert refused.json()["error"]["message"].startswith("免申即享政策没有申请环节")
    assert refused.json()["error"]["section"] == "application"
    english = _post(world, "write", {"form": form}, lang="en").json()["error"]["message"]
    assert english.startswith("an auto-grant (免申即享) has no application")
    assert "Traceback" not in refused.text


def test_a_relation_travels_through_the_form_and_a_wrong_one_is_a_422_beside_its_section(
    world: World,
) -> None:
    choices = world.client.get("/api/v1/policies/form/choices", headers=world.as_("officer"))
    assert [r["zh"] for r in choices.json()["relations"]] == ["替代", "补充", "互斥"]
    twin = ALLOWANCE.replace("id: bj-elderly-allowance", "id: bj-elderly-allowance-2026")
    old = "bj-elderly-allowance"
    typed = f"{twin}relations:\n  - excludes: {old}\n    wins: {old}\n"
    form = _post(world, "read", {"document": typed}).json()["form"]
    assert form["relations"] == [
        {"kind": "excludes", "policy_id": "bj-elderly-allowance", "wins": "bj-elderly-allowance"}
    ]
    form["contact"] = "12345"  # an edit elsewhere keeps the relation
    document = _post(world, "write", {"form": form}).json()["document"]
    assert document.endswith(
        "relations:\n- excludes: bj-elderly-allowance\n  wins: bj-elderly-allowance\n"
    )
    form["relations"][0]["kind"] = "replaces"  # wins stays: only excludes has one
    refused = _post(world, "write", {"form": form})
    assert refused.status_code == 422
    assert refused.json()["error"]["message"].startswith("第 1 项关系：只有互斥关系")
    assert refused.json()["error"]["section"] == "relations"
