"""Finding the user's next steps in a conversation with per-language rules.

What it finds:

* commitments the user makes about themselves ("I'll ...", "I need to ...", "je vais ...",
  "il faut que je ..."),
* next steps and reminders addressed to the user by the assistant or written in the produced text
  ("Next step for you: ...", "Remember to ...", "N'oubliez pas de ...", "Pensez à ..."), and items listed
  under a "Next steps" heading,
* recaps ("To recap: the chapter on Thursday, the regression"), one item per comma: an item naming an earlier
  step in short is that step (it may date it), another is a step of its own,
* suggestions ("You should ...", "Vous devriez ...") only when they come with a due date; those are the
  only items returned with `mentioned_as_todo` False.

What the assistant promises to do itself ("I'll draft the email for you") is never a user todo, and a bare
"Remember to ..." from the user is taken as an instruction to the assistant; the user's own reminders need a
self-reference ("remind me to", "note to self:", "I must remember to", "penser à ..."). Questions give nothing
but a request to be reminded ("Can you remind me to call the bank tomorrow?");
a step said in the negative is none, and one the user calls off later ("no need to call the bank anymore",
"Al final no voy a llamar al banco") is dropped.
Without a date phrase, or with one before the local date, the todo is due on the next working day. After
dateparser's first load, a 20-message conversation takes ~1-2 ms.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from blocks.rules.dates import add_working_days
from blocks.rules.engine import Kind, LanguageRules, Speaker, find_date
from blocks.rules.languages import rules_for
from blocks.rules.text import normalize_description, split_lines, split_sentences

if TYPE_CHECKING:
    from blocks.llm_types import TodoContext


def clean_description(action: str, rules: LanguageRules) -> str:
    """Drop nested commitment phrases, filler and dangling connectors; upper-case the first letter."""
    text = " ".join(action.split())
    text = re.sub(r"\s+([,;:.!?])", r"\1", text)
    while True:
        stripped = rules.leading_noise.sub("", text, count=1).lstrip(" ,:;-–")
        stripped = rules.trailing_noise.sub("", stripped)
        if stripped == text:
            break
        text = stripped
    text = rules.tidy(strip_unbalanced(text.strip(" \"'“”«»")))
    return text[:1].upper() + text[1:]


def strip_unbalanced(text: str) -> str:
    """Drop a bracket left at either end by the cut, keep a pair: "(Zoom ou Livestorm)" stays whole."""
    while text.startswith("(") and text.count("(") > text.count(")"):
        text = text[1:].lstrip()
    while text.endswith(")") and text.count(")") > text.count("("):
        text = text[:-1].rstrip()
    return text


@dataclass(frozen=True)
class Candidate:
    description: str
    due_date: dt.date | None
    kind: Kind


def _candidate(
    sentence: str,
    action_start: int,
    segment_end: int,
    prefix_start: int,
    prefix_end: int,
    speaker: Speaker,
    kind: Kind,
    rules: LanguageRules,
    base: dt.date,
) -> Candidate | None:
    """The todo stated in sentence[action_start:segment_end], cut at the first clause boundary.

    Its date is looked for in the action, then before the trigger (prefix_start:prefix_end), then after
    the clause boundary.
    """
    segment = sentence[action_start:segment_end]
    boundary = rules.clause_end.search(segment)
    action = segment[: boundary.start()] if boundary else segment
    if speaker == "assistant" and rules.first_person.match(action.lstrip()):
        return None  # the assistant's own promise ("Next step: I'll draft the memo")

    found = find_date(action, rules, base)
    if found is not None:
        # "update the cap table on the 3rd, after the grant": the comma went with the date.
        head = action[: found.start]
        if rules.restated_deadline is not None:
            # "before the early-bird deadline, i.e. by December 4": the deadline in words is the date.
            head = rules.restated_deadline.sub("", head)
        action = head + " " + re.sub(r"^\s*,", "", action[found.end :])
    else:
        # "Tomorrow, I'll call the bank" / "... because she needs it by Friday".
        found = find_date(sentence[prefix_start:prefix_end], rules, base) or (
            find_date(segment[boundary.end() :], rules, base) if boundary else None
        )

    description = clean_description(action, rules)
    if len(description.split()) < 2 or rules.vague.match(action.lstrip()) or rules.vague.match(description):
        return None
    if kind == "suggestion" and found is None:
        return None
    # A date before today is dropped from the description but not used: the default due date applies.
    due_date = found.date if found is not None and found.date >= base else None
    return Candidate(description, due_date, kind)


PART_SEPARATORS = {"next_step": ";", "recap": ";,"}
IMPERATIVE_END = re.compile(r"\s*(?:[,:;]|\s[—–-]\s)")


def is_question(sentence: str) -> bool:
    """Whether the sentence asks (its "?" may stand before a closing quote or bracket)."""
    return sentence.rstrip(" \"'”»)").endswith("?")


def _parts(
    sentence: str, start: int, end: int, kind: Kind, step_join: re.Pattern[str] | None
) -> list[tuple[int, int]]:
    """Where each step of a trigger's segment starts and ends: "Next steps: call the bank; send the deck" holds
    two, a recap one per comma too ("Recap: the chapter on Thursday, the regression, and the citations"), and
    an action two infinitives joined ("Il vous reste à acheter un panier, et à prendre rendez-vous")."""
    separators = PART_SEPARATORS.get(kind, "")
    cuts = [(i, i + 1) for i in range(start, end) if sentence[i] in separators]
    if step_join is not None:
        cuts += [match.span() for match in step_join.finditer(sentence, start, end)]
    cuts.sort()
    return list(zip([start] + [after for _, after in cuts], [before for before, _ in cuts] + [end], strict=True))


def extract_from_sentence(
    sentence: str, speaker: Speaker, rules: LanguageRules, base: dt.date
) -> list[Candidate]:
    """Every next step for the user in one sentence; a question gives none, unless the user asks to be
    reminded of it ("Can you remind me to call the bank tomorrow?")."""
    if is_question(sentence):
        request = rules.reminder_request.search(sentence) if rules.reminder_request and speaker == "user" else None
        if request is None:
            return []
        asked = sentence.rstrip(" \"'”»)?¿")
        candidate = _candidate(asked, request.end(), len(asked), 0, request.start(), speaker, "next_step", rules, base)
        return [candidate] if candidate is not None else []
    matches = list(rules.triggers[speaker].finditer(sentence))
    if not matches and speaker == "assistant" and rules.imperative is not None and rules.imperative.match(sentence):
        # "Avisa a tu banco de que vas a usar la tarjeta": the sentence is the step, in the words it was said,
        # up to its first comma or colon: what follows says why or how ("Contrátalo cuanto antes, así ...").
        end = cut.start() if (cut := IMPERATIVE_END.search(sentence)) else len(sentence)
        if rules.negation_after is not None and rules.negation_after.match(sentence, 0, end):
            return []  # "Unterschreib den Vertrag nicht vor Freitag"
        candidate = _candidate(sentence, 0, end, 0, 0, speaker, "next_step", rules, base)
        if candidate is not None and candidate.due_date is None:
            # "Ask Tom for the figures, by Friday at the latest": the date went with the comma.
            found = find_date(sentence[end:], rules, base)
            if found is not None and found.date >= base:
                candidate = replace(candidate, due_date=found.date)
        return [candidate] if candidate is not None else []
    if not matches and speaker == "user" and rules.restate is not None:
        # What the user says they do on a date to come is a commitment ("Wechselkleidung kaufe ich morgen").
        restated = rules.restate(sentence)
        found = find_date(restated, rules, base) if restated != sentence else None
        if found is not None and found.date >= base:
            sentence = restated
            matches = list(rules.triggers[speaker].finditer(sentence))
    candidates = []
    previous_end = 0
    for index, match in enumerate(matches):
        segment_end = len(sentence)
        if index + 1 < len(matches):
            # "In zwei Wochen muss ich X abgeben, und übermorgen sollte ich Y": what follows the last break before
            # the next trigger is that step's own lead-in (its date), not the end of this step.
            segment_end = matches[index + 1].start()
            breaks = list(rules.part_break.finditer(sentence, match.end(), segment_end))
            if breaks:
                segment_end = breaks[-1].start()
        if rules.negated(sentence, match, segment_end):
            previous_end = segment_end
            continue
        kind: Kind = match.lastgroup  # type: ignore[assignment]
        for start, end in _parts(sentence, match.end(), segment_end, kind, rules.step_join):
            candidate = _candidate(sentence, start, end, previous_end, match.start(), speaker, kind, rules, base)
            if candidate is not None:
                candidates.append(candidate)
        previous_end = segment_end
    return candidates


def find_next_steps(text: str, speaker: Speaker, rules: LanguageRules, base: dt.date) -> Iterator[Candidate]:
    """Next steps in one message or document, in reading order.

    Bullets under a "Next steps" heading are next steps as a whole; other lines go sentence by sentence.
    """
    under_heading = False
    for line, is_bullet in split_lines(text):
        if not is_bullet:
            under_heading = False
        sentences = split_sentences(line, rules.code)
        # A heading alone on its line, or ending it ("Of course. Here are your next steps:").
        if sentences and rules.heading.match(sentences[-1].rstrip()):
            for sentence in sentences[:-1]:
                yield from extract_from_sentence(sentence, speaker, rules, base)
            under_heading = True
            continue
        first = sentences[0] if sentences else ""
        if under_heading and not first.endswith("?") and not rules.triggers[speaker].match(first):
            # The whole first sentence of the bullet is the next step.
            candidate = _candidate(first, 0, len(first), 0, 0, speaker, "next_step", rules, base)
            if candidate is not None:
                yield candidate
            sentences = sentences[1:]
        for sentence in sentences:
            yield from extract_from_sentence(sentence, speaker, rules, base)


def repeats(words: set[str], earlier: set[str]) -> bool:
    """The same step, or the step again with more or less said ("call the bank about the loan" and "call
    the bank"; a recap "prepare the VAT return" after "prepare the quarterly VAT return"): every word of the
    shorter one (two at least) is in the longer one and makes at least half of it."""
    shorter, longer = sorted((words, earlier), key=len)
    return words == earlier or (len(shorter) >= 2 and shorter <= longer and 2 * len(shorter) >= len(longer))


def recalls(words: set[str], earlier: set[str]) -> bool:
    """A recap's item names an earlier step in short, often as a noun ("poster pronto" for "preparare il
    poster", "panier et laisse" for "acheter un panier et une laisse"): half its words at least are the step's."""
    return 2 * len(words & earlier) >= len(words) > 0


def recaps(words: set[str], steps: list[set[str]]) -> bool:
    """Several steps said again in one ("send the chapter on Thursday, rerun the regression and add the
    citations"): it holds two steps or more whole, and every word of it is in the steps sharing two with it.
    ("Send the budget to Paul" after "send the deck to Paul" and "call Marie about the budget" is new.)"""
    parts = [step for step in steps if len(words & step) >= 2]
    whole = sum(step <= words for step in parts)
    return whole >= 2 and words <= set().union(*parts)


def dated_mentions(text: str, rules: LanguageRules, base: dt.date) -> Iterator[tuple[set[str], dt.date]]:
    """The parts of the user's sentences without a step of their own that give a date to come ("Mañana llamo al
    seguro y el lunes subo a hacer las fotos": two parts), each as its words without the date, and the date."""
    for sentence in split_sentences(text, rules.code):
        if is_question(sentence) or rules.triggers["user"].search(sentence):
            continue
        for part in rules.part_break.split(sentence):
            found = find_date(part, rules, base)
            if found is not None and found.date >= base:
                yield set(normalize_description(part[: found.start] + " " + part[found.end :], rules.code).split()), found.date


def names(words: set[str], step: set[str]) -> int:
    """How many words a mention shares with a step it names in words of its own ("llamo al seguro" for "avisar
    al seguro"): half of the mention's words or of the step's at least; 0 when it does not name it."""
    shared = len(words & step)
    return shared if shared and 2 * shared >= min(len(words), len(step)) else 0


def called_off(text: str, rules: LanguageRules) -> Iterator[set[str]]:
    """The steps the user calls off, each as its words: a trigger said in the negative ("No voy a llamar al
    banco", "Ich muss die Bank nicht mehr anrufen") or one of the language's phrases for it ("no need to call the
    bank anymore", "forget the bank"), the step named up to the clause's end."""
    for sentence in split_sentences(text, rules.code):
        if is_question(sentence):
            continue
        ends = [match.end() for match in rules.triggers["user"].finditer(sentence)
                if rules.negated(sentence, match, len(sentence))]
        if rules.call_off is not None:
            ends += [match.end() for match in rules.call_off.finditer(sentence)]
        for start in ends:
            action = sentence[start:]
            cuts = [found.start() for found in (rules.clause_end.search(action), IMPERATIVE_END.search(action))
                    if found is not None and found.start() > 0]
            words = set(normalize_description(action[: min(cuts, default=len(action))], rules.code).split())
            if words:
                yield words


def calls_off(words: set[str], step: set[str]) -> bool:
    """A step called off in these words: the one word said is the step's ("forget the bank"), or two at least
    are ("I won't call the bank" calls off "call the bank", not "call Marie")."""
    shared = len(words & step)
    return shared >= 2 or (shared == 1 and len(words) == 1)


@dataclass
class Seen:
    words: set[str]
    todo: dict[str, Any] | None = None  # None: a known todo, saved before
    dated: bool = False


def extract_todos(context: TodoContext, default_due_in_working_days: int = 1) -> list[dict[str, Any]]:
    """The todo items of one execution, each once, in reading order, skipping the known ones.

    A step said again takes the date the repeat gives when its first mention gave none ("book the room",
    then "I'll book the room on Friday").
    """
    rules = rules_for(context.language_code)
    base = context.local_date
    default_due = add_working_days(base, default_due_in_working_days)
    seen = [Seen(set(normalize_description(todo, rules.code).split())) for todo in context.known_todos]

    sources: list[tuple[Speaker, str]] = [(message.sender, message.text) for message in context.messages]
    if context.produced_text:
        sources.append(("assistant", context.produced_text))

    todos: list[dict[str, Any]] = []
    for speaker, text in sources:
        for candidate in find_next_steps(text, speaker, rules, base):
            words = set(normalize_description(candidate.description, rules.code).split())
            earlier = next((step for step in seen if repeats(words, step.words)
                            or (candidate.kind == "recap" and recalls(words, step.words))), None)
            if earlier is not None:
                if earlier.todo is not None and not earlier.dated and candidate.due_date is not None:
                    earlier.todo["due_date"], earlier.dated = candidate.due_date.isoformat(), True
                continue
            if not words or recaps(words, [step.words for step in seen]):
                continue
            todo = {
                "description": candidate.description,
                "due_date": (candidate.due_date or default_due).isoformat(),
                "mentioned_as_todo": candidate.kind != "suggestion",
            }
            seen.append(Seen(words, todo, candidate.due_date is not None))
            todos.append(todo)
        if speaker == "user":
            # "Actually, no need to call the bank": the step is dropped, and stays known so that a recap saying it
            # again does not bring it back.
            for words in called_off(text, rules):
                for held in seen:
                    if held.todo is not None and calls_off(words, held.words):
                        todos.remove(held.todo)
                        held.todo = None
            # "Mañana llamo al seguro": a step listed without a date takes the date the user gives it.
            for words, date in dated_mentions(text, rules, base):
                undated = [step for step in seen if step.todo is not None and not step.dated]
                step = max(undated, key=lambda step: names(words, step.words), default=None)
                if step is not None and step.todo is not None and names(words, step.words):
                    step.todo["due_date"], step.dated = date.isoformat(), True
    return todos
