"""The pages' word catalogue: what templates read, and how features add to it."""

from __future__ import annotations

import pytest

from certsvc.web import i18n


def test_the_catalogue_gives_what_translate_gives_for_every_key() -> None:
    for language in i18n.LANGUAGES:
        catalogue = i18n.catalogue(language)
        for key in catalogue:
            assert catalogue[key] == i18n.translate(language, key)


def test_a_missing_key_shows_as_itself_in_both() -> None:
    assert i18n.catalogue("en")["no.such.key"] == "no.such.key"
    assert i18n.translate("en", "no.such.key") == "no.such.key"
    assert "no.such.key" not in i18n.catalogue("en")


def test_extend_adds_words_to_a_catalogue_already_built() -> None:
    before = i18n.catalogue("en")
    assert "test-feature.greeting" not in before
    i18n.extend({"test-feature.greeting": ("你好", "")})  # no English: falls back to Chinese
    assert i18n.catalogue("en")["test-feature.greeting"] == "你好"
    assert i18n.catalogue("zh")["test-feature.greeting"] == "你好"


def test_extend_refuses_a_key_another_feature_defined_with_other_words() -> None:
    with pytest.raises(ValueError, match=r"nav\.home"):
        i18n.extend({"nav.home": ("主页", "Start")})
    assert i18n.translate("en", "nav.home") == "Home"
    i18n.extend({"nav.home": ("首页", "Home")})  # the same words again are accepted
