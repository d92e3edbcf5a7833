"""Counted nouns and articles, said as a person says them: "1 pod", "3 pods", "an IP address".

Every message that puts a number before a noun, or "a" before a word that is
only known at run time, goes through here instead of pluralising by hand (which
printed "1 pods", "(1 alerts" and "needs a ip address").
"""

from __future__ import annotations

# Letters whose name starts with a vowel sound when an acronym is spelt out: "an IP", "an SA".
_VOWEL_SOUNDING_LETTERS = frozenset("AEFHILMNORSX")
# Words starting with a vowel letter but a consonant sound ("a user", "a one-off").
_CONSONANT_SOUNDING = ("uni", "use", "usu", "uti", "one", "eu")
_IRREGULAR = {"was": "were", "is": "are", "has": "have", "this": "these"}


def plural(noun: str) -> str:
    """The plural of an English noun (the ones warroom counts: pod, policy, proxy, entry...)."""
    head, space, tail = noun.rpartition(" ")
    if space:  # "token secret" -> "token secrets"; the last word carries the number
        return f"{head} {plural(tail)}"
    if noun in _IRREGULAR:
        return _IRREGULAR[noun]
    if noun.endswith("y") and len(noun) > 1 and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def counted(count: int, noun: str, many: str | None = None, *, grouped: bool = False) -> str:
    """`count` and `noun`, the noun in the plural unless the count is one: "1 pod", "0 pods".

    `many` names an irregular plural; `grouped` writes thousands with commas (1,234).
    """
    number = f"{count:,}" if grouped else str(count)
    return f"{number} {noun if count == 1 else many or plural(noun)}"


def noun_of(count: int, noun: str, many: str | None = None) -> str:
    """The noun alone, agreeing with `count`: "1 of 3 pods" is `f"1 of {counted(3, 'pod')}"`,
    "3 pods were" is `f"{counted(n, 'pod')} {noun_of(n, 'was')}"`."""
    return noun if count == 1 else many or plural(noun)


def in_sentence(label: str) -> str:
    """A label ("Service account", "IP address or CIDR") as it reads mid-sentence: the first
    letter lowered unless the first word is an acronym."""
    first = label.split(" ", 1)[0]
    if len(first) > 1 and first[:2].isupper():
        return label
    return label[:1].lower() + label[1:]


def with_article(phrase: str) -> str:
    """`phrase` after "a" or "an", by its sound: "an IP address", "a service", "an alert"."""
    first = phrase.split(" ", 1)[0]
    if not first:
        return phrase
    if len(first) > 1 and first[:2].isupper():  # an acronym, spelt out letter by letter
        vowel = first[0] in _VOWEL_SOUNDING_LETTERS
    else:
        lowered = first.lower()
        vowel = lowered[0] in "aeiou" and not lowered.startswith(_CONSONANT_SOUNDING)
    return f"{'an' if vowel else 'a'} {phrase}"
