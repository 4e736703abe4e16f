"""Every glossary term gets a hover definition on every page, built from docs/glossary.md.

The glossary is the one source: each term of its definition list (a `Term` line, then `:   text`)
becomes an abbreviation whose title is the first sentence of its definition, in plain text. A term
line may name several forms ("Read model, projection"). Matching is Python-Markdown's abbreviation
matching (whole words, never inside code), tolerant of a line break between two words of a term.
"""

from __future__ import annotations

import re
from pathlib import Path

from markdown import Extension, Markdown
from markdown.extensions.abbr import AbbrTreeprocessor

GLOSSARY = Path(__file__).resolve().parent.parent / "docs" / "glossary.md"

# Everyday words of the exercise itself, defined on the first answer page: a hover on every one of
# them would underline half of each page.
NO_HOVER = {"Command", "Query", "Event", "Version"}

_TERM_LINE = re.compile(r"^(?P<term>[A-Za-z][^:].*?)\s*$")
_DEFINITION = re.compile(r"^:\s{3}(?P<text>.+)$")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MARKUP = re.compile(r"[`*]")
_FIRST_SENTENCE = re.compile(r"^(.+?\.)(?:\s|$)")


def plain(markdown_text: str) -> str:
    """Markdown inline text as plain text: links keep their words, code and emphasis marks go."""
    return " ".join(_MARKUP.sub("", _LINK.sub(r"\1", markdown_text)).split())


def read_glossary(path: Path = GLOSSARY) -> dict[str, str]:
    """{term line: full definition in plain text}, in the glossary's order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    entries: dict[str, str] = {}
    for index, line in enumerate(lines[:-1]):
        definition = _DEFINITION.match(lines[index + 1])
        if definition and _TERM_LINE.match(line) and not line.startswith(("#", "!", " ")):
            text = [definition["text"]]
            for more in lines[index + 2 :]:
                if not more.startswith("    "):
                    break
                text.append(more.strip())
            entries[line.strip()] = plain(" ".join(text))
    if not entries:
        raise ValueError(f"{path}: no definition list found (a term line, then ':   definition')")
    return entries


def hover_text(definition: str) -> str:
    """The definition's first sentence, the part a hover shows."""
    first = _FIRST_SENTENCE.match(definition)
    return first.group(1) if first else definition


def forms(term: str) -> set[str]:
    """The spellings a term is matched in: as written, either initial, title case, plural."""
    if term.isupper():  # an acronym: CQRS, DTO, CDC
        return {term} if term.endswith("S") else {term, term + "s"}
    bases = {term, term[0].lower() + term[1:], term[0].upper() + term[1:], term.title()}
    return bases | {base + "s" for base in bases if base[-1].isalpha() and base[-1] not in "sy"}


def hover_terms(path: Path = GLOSSARY) -> dict[str, str]:
    """{spelling: hover text} for every glossary term that gets a hover."""
    terms: dict[str, str] = {}
    for entry, definition in read_glossary(path).items():
        for term in (part.strip() for part in entry.split(",")):
            if term and term not in NO_HOVER:
                for form in forms(term):
                    terms.setdefault(form, hover_text(definition))
    return terms


class _Spaced(dict):
    """Looks a match up with its whitespace (a line break in the source) read as one space."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(" ".join(key.split()))


class GlossaryTreeprocessor(AbbrTreeprocessor):
    """Python-Markdown's abbreviation pass, with any whitespace allowed between a term's words."""

    def run(self, root):
        if not self.abbrs:
            return None
        keys = sorted(self.abbrs, key=len, reverse=True)
        pattern = "|".join(r"\s+".join(map(re.escape, key.split())) for key in keys)
        self.RE = re.compile(rf"\b(?:{pattern})\b")
        self.iter_element(root)
        return None


class GlossaryExtension(Extension):
    """Adds the glossary's hover definitions to every page."""

    def __init__(self, terms: dict[str, str]) -> None:
        super().__init__()
        self.terms = _Spaced(terms)

    def extendMarkdown(self, md: Markdown) -> None:
        md.treeprocessors.register(GlossaryTreeprocessor(md, self.terms), "glossary", 7)


def on_config(config):
    config.markdown_extensions.append(GlossaryExtension(hover_terms()))
    return config
