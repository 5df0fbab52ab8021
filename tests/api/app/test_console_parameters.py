"""The parameter library on the console: public, every value with its dates and source."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from rules.store import PolicyStore
from tests.api.app.test_console_subject import login
from tests.api.app.world import CATALOG, World


def test_anyone_reads_every_parameter_with_its_history_and_sources(world: World) -> None:
    page = world.client.get("/console/parameters")
    assert page.status_code == 200
    html = page.text
    dibao = html[html.index('id="parameter-dibao_standard"') :].split("</article>")[0]
    assert re.search(r'data-from="2024-07-01">\s*<td>2024-07-01</td><td>—</td>'
                     r'<td class="figure">1450</td>', dibao)  # fmt: skip
    assert "京民社救发〔2024〕80号" in dibao
    old = dibao[dibao.index('data-from="2023-07-01"') :].split("</tr>")[0]
    assert 'class="modelled"' in old and "1395" in old and "2024-06-30" in old
    assert "read by</span>：—" in dibao  # the world publishes no policy reading it
    tiers = html[html.index('id="parameter-elderly_allowance"') :].split("</article>")[0]
    assert "≥80: 100; ≥90: 500; ≥100: 800" in tiers and "京民养老发〔2019〕160号" in tiers
    assert 'data-policy="bj-elderly-allowance"' in tiers  # the published policy reading it


def test_a_policys_page_shows_only_the_parameters_it_reads(world: World, tmp_path: Path) -> None:
    html = world.client.get("/console/policies/bj-elderly-allowance/parameters").text
    assert 'id="parameter-elderly_allowance"' in html
    assert 'id="parameter-dibao_standard"' not in html
    (tmp_path / "more").mkdir()
    shutil.copy(CATALOG / "bj-elderly-card.yaml", tmp_path / "more")
    PolicyStore(world.engine).import_catalog(tmp_path / "more", author="importer", note="seed")
    none = world.client.get("/console/policies/bj-elderly-card/parameters").text
    assert 'id="no-parameters"' in none


def test_an_unknown_policy_is_a_404_page(world: World) -> None:
    page = world.client.get("/console/policies/bj-nothing/parameters")
    assert page.status_code == 404 and "/console/parameters" in page.text


def test_every_page_links_the_library_and_the_editor_a_policys_parameters(
    world: World,
) -> None:
    assert 'id="parameters-link"' in world.client.get("/console/algorithm").text
    login(world, "officer")
    editor = world.client.get("/console/policies/bj-elderly-allowance")
    assert 'href="/console/policies/bj-elderly-allowance/parameters"' in editor.text


def test_the_api_lists_every_value_with_its_source(world: World) -> None:
    response = world.client.get("/api/v1/parameters?on=2024-06-30", headers=world.as_("resident"))
    assert response.status_code == 200, response.text
    dibao = next(p for p in response.json() if p["name"] == "dibao_standard")
    assert (dibao["name_zh"], dibao["unit"], dibao["in_force"]) == ("低保标准", "CNY/month", "1395")
    first, second = dibao["values"]
    assert first["modelled"] and first["end"] == "2024-06-30"
    assert second["document"] == "京民社救发〔2024〕80号" and second["end"] is None


def test_a_policys_page_says_whether_its_figures_are_cited_or_modelled(
    world: World, tmp_path: Path
) -> None:
    cited = world.client.get("/console/policies/bj-elderly-allowance/parameters").text
    assert 'data-provenance="cited"' in cited and "京民养老发〔2019〕160号" in cited
    (tmp_path / "more").mkdir()
    shutil.copy(CATALOG / "bj-tekun-support.yaml", tmp_path / "more")
    PolicyStore(world.engine).import_catalog(tmp_path / "more", author="importer", note="seed")
    html = world.client.get("/console/policies/bj-tekun-support/parameters").text
    line = html[html.index('id="policy-provenance"') :].split("</p>")[0]
    assert 'data-provenance="modelled"' in line and "模型" in line
    note = PolicyStore(world.engine).catalog().by_id["bj-tekun-support"].provenance_note
    assert note and "parameters.tekun_standard_factor" in note and "tekun_standard_factor" in line
    # the parameter's readers mark the modelled policy
    library = world.client.get("/console/parameters").text
    dibao = library[library.index('id="parameter-dibao_standard"') :].split("</article>")[0]
    assert re.search(r'data-policy="bj-tekun-support">[^<]+</a>（<span class="modelled', dibao)
