"""No reason shown for a ranked offer cites a protected or sensitive characteristic.

The forbidden words are derived from the schema and the tag library (every field and tag whose
sensitivity is not ordinary), not written out by hand, so a field added to the schema as
protected is checked too.
"""

from __future__ import annotations

import polars as pl
import pytest

from matcher.ranking.citable import tag_sensitivities
from matcher.ranking.model import RankingModel, TrainingParams, fit_models, prepare
from matcher.ranking.order import rank_offers
from profiles.schema import Schema
from profiles.tagging import load_tags
from simulations.behaviour import World, simulate_world

# what follows an English field name when it is cited with its value (or its absence)
_VALUES = ("unknown", "not ", "none", "female", "male", "dibao", "low_income", "tekun")


@pytest.fixture(scope="module")
def world() -> World:
    # ~0.64 ranked offers a resident since offers became households' and firms' (14,000
    # residents gave 8,983): 17,000 give the 10,000 the claim is about
    return simulate_world(residents=17_000, enterprises=1_700, seed=18)


@pytest.fixture(scope="module")
def model(world: World) -> RankingModel:
    tags = load_tags(schema=world.schema)
    data = prepare(
        world.log, world.pairs, world.profiles, world.policies, world.schema, seed=18,
        tag_names={t.id: t.name_zh for t in tags},
        tag_sensitivity=tag_sensitivities(tags, world.schema),
    )  # fmt: skip
    return fit_models(data, seed=18, params=TrainingParams(max_iter=40))


def forbidden_words(schema: Schema) -> list[str]:
    """How a reason would name a protected or sensitive field or tag, in Chinese and English."""
    words = []
    for entity in (schema.resident, schema.entity("enterprise")):
        for field in entity.fields:
            if field.sensitivity in ("protected", "sensitive"):
                en = field.name.replace("_", " ")
                # a reason reads "年龄 86 …(age 86 …": the name, then its value
                words += [f"{field.name_zh or field.name} ", f"({en} "]
    levels = tag_sensitivities(load_tags(schema=schema), schema)
    names = {t.id: t.name_zh for t in load_tags(schema=schema)}
    words += [f"「{names[t]}」" for t, level in levels.items() if level != "ordinary"]
    words += [f"(tag {t} " for t, level in levels.items() if level != "ordinary"]
    return words


def cites(text: str, word: str) -> bool:
    """Whether ``text`` names ``word``: a Chinese name anywhere; an English one only before a
    value ("(age 86", "(gender female" — not "(age years 22", the firm's age)."""
    if not word.startswith("("):
        return word in text
    at = text.find(word)
    while at >= 0:
        rest = text[at + len(word) :]
        if rest[:1].isdigit() or not rest.split(" ")[0].isalpha() or rest.startswith(_VALUES):
            return True
        at = text.find(word, at + 1)
    return False


def test_the_words_cover_the_complaints_of_the_issue(world: World) -> None:
    words = forbidden_words(world.schema)
    for text in ("残疾等级 3 降低得分", "月收入 4,328 降低得分", "年龄 86 降低得分 (age 86 lowers)",
                 "性别 女 提高得分 (gender female raises)"):  # fmt: skip
        assert any(cites(text, w) for w in words), text
    assert not any(cites("成立年限 22 提高得分 (age years 22 raises the score)", w) for w in words)
    assert any("新持证残疾人" in w for w in words) and "「新生儿父母」" not in words


def test_no_reason_of_10_000_ranked_offers_cites_a_protected_or_sensitive_field(
    world: World, model: RankingModel
) -> None:
    assert not model.spec.audit
    ranked = rank_offers(
        world.pairs, policies=world.policies, personalised=True, model=model,
        profiles=world.profiles, schema=world.schema, history=world.log, reasons=6,
    ).filter(pl.col("ranked"))  # fmt: skip
    assert ranked.height >= 10_000
    texts = ranked.explode("reasons")["reasons"].drop_nulls().to_list()
    assert len(texts) == 6 * ranked.height
    words = forbidden_words(world.schema)
    cited = [t for t in texts if any(cites(t, w) for w in words)]
    assert cited == []
    # the reasons do speak: of the policy, the pair, the subject's own history
    assert any("年化待遇" in t for t in texts) and any("既往" in t for t in texts)
