"""English rules."""

from __future__ import annotations

from blocks.rules.dates import (
    day_of_month,
    end_of_month,
    end_of_week,
    fixed,
    relative,
    today,
    weekday_resolver,
    with_dateparser,
)
from blocks.rules.engine import LanguageRules, alternation, date_rule, rx, trigger_regex


def build() -> LanguageRules:
    weekdays = {
        "monday": 0,
        "tuesday": 1,
        "wednesday": 2,
        "thursday": 3,
        "friday": 4,
        "saturday": 5,
        "sunday": 6,
    }
    months = (
        r"(?:january|february|march|april|may|june|july|august|september|october|november|december"
        r"|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\b\.?"
    )
    prep = r"(?:by|on|before|until|till|due|no later than)\s+"
    opt = f"(?:{prep})?"
    number = r"(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
    tail = (
        r"(?:\s+(?:morning|afternoon|evening|night|noon|eod|at\s+(?:noon|\d{1,2}(?::\d{2})?\s*(?:am|pm)?)))?"
        r"(?:,?\s+at the latest)?"
    )
    # "on the 3rd floor", "by the 2nd round" are not dates; "the 3rd of March" is a full date.
    not_a_day = (
        rf"(?!\s+(?:of\s+)?{months})"
        r"(?!\s+(?:floor|slide|page|item|point|time|quarter|round|version|draft|chapter|section|line|row"
        r"|column|option|one|candidate|interview|step|person|place|year|week|day|month)s?\b)"
    )
    # The assistant saying "I'll remember to ..." or "we'll make sure to ..." speaks of itself.
    not_after_i = r"(?<!I )(?<!I'll )(?<!I will )(?<!we )(?<!we'll )(?<!we will )"

    date = date_rule(tail)

    # "I also need to…", "I'll still have to…": an adverb between subject and verb is still a commitment.
    adverb = r"(?:(?:also|still|really|just|first|then|definitely|probably|absolutely) )?"
    return LanguageRules(
        code="en",
        triggers={
            "user": trigger_regex(
                next_step=[
                    r"(?:my |the )?next steps? (?:for me )?(?:is to|is|are)\s*:?",
                    r"(?:my |the )?next steps?(?: for me)?\s*[:\-–]",
                    r"note to self\s*:",
                    r"to-?do\s*:",
                    r"remind me to",
                    r"(?:I )?(?:must|need to|have to|should|will|'ll) remember to",
                    r"(?:I )?(?:mustn't|must not|shouldn't|should not|can't|cannot|won't|will not) forget to",
                ],
                commitment=[
                    rf"I(?:'ll| will| shall) {adverb}(?:need|have) to",
                    rf"I(?:'ll| will| shall) {adverb}",
                    rf"I(?:'m| am) {adverb}(?:going|planning|gonna) to",
                    r"I(?:'m| am) gonna",
                    rf"I {adverb}(?:need|have|ought|plan|intend|promised) to",
                    r"I've got to",
                    rf"I {adverb}(?:must|should)(?! have\b)",
                    r"I(?:'d| had) better",
                ],
            ),
            "assistant": trigger_regex(
                next_step=[
                    r"(?:your |the )?next steps? for you (?:is to|is|are)\s*:?",
                    r"(?:your |the )?next steps? for you\s*[:\-–]",
                    r"your next steps? (?:is to|is|are)\s*:?",
                    r"(?:your |the )?next steps?\s*[:\-–]",
                    r"(?:as a )?reminder\s*:",
                    r"(?:to recap|recap|in summary|summary)\s*:",
                    r"to-?do(?: for you)?\s*:",
                    not_after_i + r"(?:please )?remember to",
                    not_after_i + r"(?:please )?(?:don't|do not) forget to",
                    not_after_i + r"(?:please )?make sure (?:to|that you|you)",
                ],
                commitment=[
                    r"you(?:'ll| will) (?:need|have) to",
                    r"you (?:need|have|ought) to",
                    r"you(?:'ve| have) got to",
                    r"you must",
                ],
                suggestion=[
                    r"you should(?! have\b)",
                    r"you(?:'d| would) (?:better|want to)",
                    r"you(?:'ll| will) want to",
                    r"you could",
                    r"I (?:recommend|suggest) (?:that )?you",
                ],
            ),
        },
        leading_noise=rx(
            r"^(?:(?:and|also|then|first|just|still|please|so|now|ok|okay)\b[,:]?\s*"
            r"|to\s+|(?:go ahead and|try to|remember to|(?:don't|not) forget to|make sure (?:to|that I|I))\s+"
            r"|I(?:'ll| will) (?:need|have) to\s+|I(?:'ll| will)\s+|I (?:need to|have to|must|should)\s+)"
        ),
        first_person=rx(r"^(?:I\b|we\b|let me\b|let's\b|let us\b)"),
        clause_end=rx(r"\s*(?:;|\s[—–-]\s|,?\s+(?:but|because|since|unless|so that|so I can|which)\b)"),
        trailing_noise=rx(r"(?:[\s,;:.!?…]+|\s+(?:and|or|then|at the latest))+$"),
        vague=rx(
            r"^(?:be|you|it|do (?:it|that|this)|think about it|see (?:if|what|how|whether)"
            r"|let you know|keep you (?:posted|updated)|get back to you"
            r"|(?:need|want|ask|let) you|would like you|\w+ (?:it|that|this|them)\W*$)\b"
        ),
        heading=rx(
            r"^(?:your |my |the )?(?:next steps?|action items?|to-?dos?|to-?do list)"
            r"(?: for (?:you|me))?\s*:?$"
        ),
        dates=(
            date(
                rf"{opt}(?:(?:this|next|the coming|coming)\s+)?(?P<wd>{alternation(list(weekdays))})\b",
                weekday_resolver(weekdays),
            ),
            date(rf"{opt}(?:the\s+)?end of (?:the |this )?(?:working |work )?week\b", fixed(end_of_week)),
            date(rf"{opt}(?:the\s+)?end of (?:the |this )?month\b", fixed(end_of_month)),
            date(
                rf"{opt}(?:today|tonight|this (?:morning|afternoon|evening)|later today"
                r"|(?:the\s+)?end of (?:the |to)?day|eod)\b",
                fixed(today),
            ),
            date(
                rf"{opt}(?P<core>(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{months}(?:,?\s+\d{{4}})?"
                rf"|{months}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?|\d{{4}}-\d{{2}}-\d{{2}})",
                with_dateparser("en"),
            ),
            date(rf"{prep}the\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b{not_a_day}", day_of_month),
            date(
                rf"{opt}(?P<core>(?:the\s+)?day after tomorrow|tomorrow|next week|next month)\b",
                with_dateparser("en"),
            ),
            date(
                rf"(?:in|within)\s+(?:the next\s+)?(?P<n>{number})\s+(?P<unit>days?|weeks?|months?)\b",
                relative("en", "in"),
            ),
        ),
    )


RULES = build()
