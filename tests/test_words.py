"""Tests for data/words.py: the open word lists the storyteller draws prompts from.

What is checked here, offline and in well under a second: the sizes the lists must keep (large enough
that a small model has to copy words, not learn them); one lower-case word per entry with no
duplicates; names that are no other word; no list word that the template text also uses; which words
may stand in two lists; every plural and verb form one that data/scoring.py recognises; the nouns whose
plural the spelling rules could get wrong; and articles.

Spelling is not tested here (the project has no dictionary). It was checked when the lists were written
with a throwaway pyspellchecker run over every list word, plural and verb form; the correct words that
dictionary lacks were reviewed by hand: allosaurus ankylosaurus beignet cafe cavewoman churro clownfish
crabapple crouton eclair flatbread gelato handbell hoodie hoverfly jackalope jalapeno lightbulb macaron
mochi nana panini pinata pinecone pufferfish quokka selkie smartphone souffle spinosaurus teether
toymaker treehouse velociraptor wyvern yoyo.
"""

import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data import storyteller as st  # noqa: E402
from data import words as W  # noqa: E402
from data.scoring import word_forms  # noqa: E402

SUBLISTS = {
    "CHARACTERS": ("ANIMALS", "PEOPLE", "CREATURES", "THINGS"),
    "OBJECTS": ("FOODS", "TOYS", "CLOTHES", "INSTRUMENTS", "TOOLS", "HOUSEHOLD", "NATURE", "VEHICLES", "OTHER"),
}

MINIMUM_SIZES = {
    "ANIMALS": 350, "PEOPLE": 250, "CREATURES": 60, "THINGS": 250, "CHARACTERS": 900,
    "NAMES_SHE": 300, "NAMES_HE": 300, "PLACES": 350, "OBJECTS": 1500, "BUILDINGS": 150,
    "VERBS": 400, "ACTIONS": 300, "FEARS": 200, "CHARACTER_ADJECTIVES": 150, "THING_ADJECTIVES": 100,
}


def entries(name: str) -> list[str]:
    """The words of a list as written, duplicates kept: keys of the tables, bases of the verbs."""
    if name == "PLACES":
        return [e.split(":")[0] for e in W.PLACE_ENTRIES]
    if name == "FEARS":
        return [e.split(":")[0] for e in W.FEAR_ENTRIES]
    if name in ("VERBS", "ACTIONS"):
        return [forms[0] for forms in getattr(W, name)]
    return list(getattr(W, name))


WORD_LISTS = [*SUBLISTS["CHARACTERS"], "CHARACTERS", "PLACES", *SUBLISTS["OBJECTS"], "OBJECTS", "BUILDINGS",
              "VERBS", "ACTIONS", "FEARS", "CHARACTER_ADJECTIVES", "THING_ADJECTIVES"]
NOUN_LISTS = [*SUBLISTS["CHARACTERS"], "PLACES", *SUBLISTS["OBJECTS"], "BUILDINGS", "FEARS"]
NAMES = W.NAMES_SHE + W.NAMES_HE


def all_list_words() -> set[str]:
    return {w for name in WORD_LISTS for w in entries(name)}


# ----------------------------------------------------------------------------------------------
# sizes and shape


@pytest.mark.parametrize("name, minimum", MINIMUM_SIZES.items())
def test_lists_keep_their_sizes(name, minimum):
    assert len(getattr(W, name)) >= minimum


@pytest.mark.parametrize("name", WORD_LISTS)
def test_one_lower_case_word_per_entry_and_no_duplicates(name):
    words = entries(name)
    assert [w for w in words if not (w.isascii() and w.isalpha() and w.islower())] == []
    assert [w for w, n in Counter(words).items() if n > 1] == []


def test_names_are_capitalised_words_of_one_gender():
    assert [n for n in NAMES if not (n.isascii() and n.isalpha() and n[0].isupper() and n[1:].islower())] == []
    assert [n for n in NAMES if len(n) < 3] == []
    assert [n for n, k in Counter(NAMES).items() if k > 1] == []  # also: no name in both lists


@pytest.mark.parametrize("whole, parts", SUBLISTS.items())
def test_sublists_make_the_whole_and_do_not_overlap(whole, parts):
    assert getattr(W, whole) == [w for part in parts for w in getattr(W, part)]
    assert len(set(getattr(W, whole))) == len(getattr(W, whole))


def test_places_take_a_preposition():
    assert {prep for prep in W.PLACES.values()} <= {"in", "at", "on", "by", "near", "under"}
    assert all(e.count(":") == 1 for e in W.PLACE_ENTRIES)


# ----------------------------------------------------------------------------------------------
# pronouns


def test_she_and_he_are_characters_of_one_gender():
    assert W.SHE <= set(W.CHARACTERS) and W.HE <= set(W.CHARACTERS)
    assert not W.SHE & W.HE
    # words whose ending fixes the gender are in the right set (and no neutral ending claims one)
    for word in W.CHARACTERS:
        if word.endswith(("woman", "girl", "maid", "ess")):
            assert word in W.SHE, word
        elif word.endswith(("man", "boy")) and word not in {"human"}:
            assert word in W.HE, word
    assert {"queen", "hen", "cow", "mermaid", "aunt"} <= W.SHE and {"king", "rooster", "bull", "uncle"} <= W.HE


# ----------------------------------------------------------------------------------------------
# words that must stay apart


def test_no_list_word_is_a_template_word():
    # The templates' own words are never held out, and a story would show them whatever the prompt
    # asked for. Adjectives are template words themselves, so this also keeps them off the lists.
    template = st.template_words()
    nouns_and_verbs = all_list_words() - set(W.CHARACTER_ADJECTIVES + W.THING_ADJECTIVES)
    assert sorted(nouns_and_verbs & template) == []
    assert sorted(w for w in W.CHARACTER_ADJECTIVES + W.THING_ADJECTIVES if w in nouns_and_verbs) == []


def test_names_are_no_other_word():
    words = {f for w in all_list_words() for f in st.forms(w)} | st.template_words()
    assert sorted(n for n in NAMES if n.lower() in words) == []


def test_no_two_words_share_a_form():
    # A form that two words share (a verb's "painting" and the object "painting") would carry a held-out
    # word into training whenever the other one is asked for.
    adjectives = set(W.CHARACTER_ADJECTIVES + W.THING_ADJECTIVES)
    owners = {}
    for word in (all_list_words() - adjectives) | {n.lower() for n in NAMES}:
        for form in st.forms(word):
            owners.setdefault(form, set()).add(word)
    assert {f: sorted(ws) for f, ws in owners.items() if len(ws) > 1} == {}
    assert sorted(adjectives & set(owners)) == []  # nor is an adjective one ("painted")


# Pairs of lists that share words by design (see the comment at NOUNS_AND_VERBS in data/words.py).
SHARED_BY_DESIGN = [{"THINGS", other} for other in ("OBJECTS", "VEHICLES", "PLACES", "BUILDINGS")] + [
    {"BUILDINGS", other} for other in ("OBJECTS", "VEHICLES", "PLACES")] + [{"VEHICLES", "PLACES"},
                                                                             {"VERBS", "ACTIONS"}]


def test_a_word_is_in_two_lists_only_where_it_belongs_to_both():
    def group(name):
        return "OBJECTS" if name in SUBLISTS["OBJECTS"] and name != "VEHICLES" else name

    lists_of = {}
    for name in (*SUBLISTS["CHARACTERS"], "PLACES", *SUBLISTS["OBJECTS"], "BUILDINGS", "VERBS", "ACTIONS"):
        for word in entries(name):
            lists_of.setdefault(word, set()).add(group(name))
    unplanned = {}
    for word, groups in lists_of.items():
        pairs = [{a, b} for a in groups for b in groups if a < b]
        other = [p for p in pairs if p not in SHARED_BY_DESIGN]
        if other:
            unplanned[word] = other
    assert sorted(unplanned) == sorted(W.NOUNS_AND_VERBS)
    for word, pairs in unplanned.items():  # a noun list and a verb list, never two noun lists
        assert all(p & {"VERBS", "ACTIONS"} for p in pairs), (word, pairs)


# ----------------------------------------------------------------------------------------------
# forms: what the stories write, and what scoring counts


def test_verb_forms_are_complete_consistent_and_scored():
    seen = {}
    for forms in W.VERBS + W.ACTIONS:
        base, third, past, ing = forms
        assert len(forms) == 4 and all(f.isalpha() and f.islower() for f in forms), forms
        assert third.endswith("s") and ing.endswith("ing"), forms
        assert seen.setdefault(base, forms) == forms  # the same verb has the same forms in both lists
        # a story that writes any form must count as having the word (data/scoring.py)
        assert [f for f in forms if f not in word_forms(base)] == [], forms
    assert seen["hop"] == ("hop", "hops", "hopped", "hopping")
    assert seen["picnic"] == ("picnic", "picnics", "picnicked", "picnicking")
    assert seen["fly"] == ("fly", "flies", "flew", "flying")


def test_plurals_are_scored():
    # "two penguins who build a sandcastle", "a seal who juggles fish": the plural a story writes must
    # count as the word asked for
    nouns = set(W.CHARACTERS + W.OBJECTS + W.BUILDINGS + list(W.FEARS))
    assert sorted(n for n in nouns if W.plural(n) not in word_forms(n)) == []
    assert all(p.isalpha() and p.islower() for p in W.IRREGULAR_PLURALS.values())


# Nouns whose ending might call for an irregular plural but which take the regular one (reviewed).
REGULAR_PLURALS = set("""
cafe carafe chef cliff earmuff fife giraffe handkerchief hippogriff mastiff muff neckerchief reef ruff
sheriff skiff wharf
archipelago armadillo avocado banjo bistro bolero bongo burrito cameo cello churro cockatoo cuckoo diabolo
didgeridoo dodo flamingo gazebo gecko gelato gizmo grotto guanaco gumbo hippo igloo jalapeno kangaroo kazoo
kimono koto mango memento nacho patio pedalo photo piano piccolo pistachio pomelo poncho radio rhino
risotto saguaro sombrero stereo studio taco taro tuxedo yoyo zoo
abacus allosaurus amaryllis ankylosaurus apatosaurus brachiosaurus brontosaurus bus chrysalis circus crocus
clematis diplodocus genius hibiscus hippopotamus ibis iris lotus mantis minibus nautilus pegasus platypus
spinosaurus stegosaurus thesaurus trellis trolleybus tyrannosaurus walrus
beach beech bench birch branch brooch bullfinch chaffinch coach cockroach conch couch finch goldfinch
larch ostrich peach porch pouch ranch sandwich stagecoach winch workbench wrench
blouse box breadbox chatterbox fox hatbox icebox jukebox letterbox lunchbox mailbox moneybox paintbox
sandbox shoebox soapbox toolbox mongoose ottoman talisman blintz topaz bureau plateau
""".split())
RISKY_ENDINGS = ("f", "fe", "o", "us", "is", "ops", "ch", "man", "child", "tooth", "foot", "mouse", "louse",
                 "goose", "fish", "craft", "deer", "sheep", "ox", "z", "eau", "woods")


def test_nouns_with_risky_endings_have_a_reviewed_plural():
    nouns = {w for name in NOUN_LISTS for w in entries(name)}
    risky = {n for n in nouns if n.endswith(RISKY_ENDINGS) and not n.endswith("tch")}
    unreviewed = risky - set(W.IRREGULAR_PLURALS) - REGULAR_PLURALS
    assert sorted(unreviewed) == [], "check each plural, then add it to IRREGULAR_PLURALS or REGULAR_PLURALS"
    assert sorted(REGULAR_PLURALS - nouns) == []  # the reviewed list names only words of the lists
    assert [W.plural(n) for n in ("wolf", "hoof", "potato", "oasis", "fisherman", "dormouse", "salmon")] == [
        "wolves", "hooves", "potatoes", "oases", "fishermen", "dormice", "salmon"]


def test_fear_phrases_end_with_the_word():
    for word, phrase in W.FEARS.items():
        last = phrase.split()[-1]
        assert all(p.isalpha() and p.islower() for p in phrase.split()), phrase
        assert last in (word, W.plural(word)), (word, phrase)  # the storyteller's "was"/"were" reads this
        assert last in word_forms(word), (word, phrase)


def test_articles_follow_the_spelling():
    # The storyteller picks "a"/"an" from the spelling (with_article), and its tests check the same way,
    # so no word may start with a spelling whose sound says otherwise (a euphonium, an hour, a ukulele).
    follows_an_article = set(W.CHARACTERS + W.OBJECTS + W.BUILDINGS + W.CHARACTER_ADJECTIVES + W.THING_ADJECTIVES)
    misleading = ("eu", "ewe", "one", "once", "hour", "honest", "honor", "heir", "herb", "uk", "ut", "usu", "ura",
                  "uri", "uro", "unin", "unim")
    assert sorted(w for w in follows_an_article if w.startswith(misleading)) == []
    assert W.with_article("owl") == "an owl" and W.with_article("unicorn") == "a unicorn"


def test_no_unkind_or_unsafe_words():
    banned = {"sword", "spear", "arrow", "gun", "rifle", "bomb", "dagger", "knife", "axe", "blood", "beer", "wine",
              "church", "temple", "angel", "devil", "demon", "zombie", "vampire", "skull", "hunt", "kill"}
    assert sorted(all_list_words() & banned) == []
