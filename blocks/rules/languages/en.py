"""English rules: words and phrases only; blocks/rules/engine.py compiles them."""

from __future__ import annotations

from blocks.rules.engine import A_FEW_WORDS, DateWords, LanguageWords, compile_rules, enumerated

MONTHS = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\b\.?"
)
PREP = r"(?:by|on|before|until|till|due|no later than)\s+"
OPT = f"(?:{PREP})?"
# "on the 3rd floor", "by the 2nd round" are not dates; "the 3rd of March" is a full date.
NOT_A_DAY = (
    rf"(?!\s+(?:of\s+)?{MONTHS})"
    r"(?!\s+(?:floor|slide|page|item|point|time|quarter|round|version|draft|chapter|section|line|row"
    r"|column|option|one|candidate|interview|step|person|place|year|week|day|month)s?\b)"
)
# The assistant saying "I'll remember to ..." or "we'll make sure to ..." speaks of itself.
NOT_AFTER_I = r"(?<!I )(?<!I'll )(?<!I will )(?<!we )(?<!we'll )(?<!we will )"
# "I also need to…", "I'll still have to…": an adverb between subject and verb is still a commitment.
ADVERB = r"(?:(?:also|still|really|just|first|then|definitely|probably|absolutely) )?"
NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
           "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}

DATES = DateWords(
    language="en",
    weekdays={"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6},
    weekday=rf"{OPT}(?:(?:this|next|the coming|coming)\s+)?{{wd}}\b",
    weekdays_short={"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4, "sat": 5,
                    "sun": 6},
    # Capitalised, as a name is: "on Sat", not "on sun loungers".
    weekday_short=rf"(?:{PREP}(?:(?:this|next)\s+)?|(?:this|next)\s+)(?-i:(?=[A-Z])){{wd}}\b\.?",
    weekday_day=rf",?\s+(?:the\s+)?(?P<wday>\d{{1,2}})(?:(?:st|nd|rd|th)\b|(?=\s+(?:of\s+)?{MONTHS}))"
                rf"(?:\s+(?:of\s+)?(?P<wmonth>{MONTHS}))?",
    end_of_week=rf"{OPT}(?:the\s+)?end of (?:the |this )?(?:working |work )?week\b",
    end_of_next_week=rf"{OPT}(?:the\s+)?end of next week\b",
    end_of_month=rf"{OPT}(?:the\s+)?end of (?:the |this )?month\b",
    today=rf"{OPT}(?:today|tonight|this (?:morning|afternoon|evening)|later today|(?:the\s+)?end of (?:the |to)?day"
          r"|eod)\b",
    full_date=rf"{OPT}(?P<core>(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTHS}(?:,?\s+\d{{4}})?"
              rf"|{MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?|\d{{4}}-\d{{2}}-\d{{2}})",
    day_of_month=rf"{PREP}the\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b{NOT_A_DAY}",
    next_week=rf"{OPT}(?:(?:early|sometime)\s+)?next week\b",
    relative=rf"{OPT}(?P<core>(?:the\s+)?day after tomorrow|tomorrow|next month)\b",
    counted=rf"(?:in|within)\s+(?:the next\s+)?(?P<n>\d+|{'|'.join(NUMBERS)})\s+(?P<unit>days?|weeks?|months?)\b",
    numbers=NUMBERS,
    units={"d": "day", "w": "week", "m": "month"},
    tail=r"(?:\s+(?:morning|afternoon|evening|night|noon|eod|at\s+(?:noon|\d{1,2}(?::\d{2})?\s*(?:am|pm)?)))?"
         r"(?:,?\s+at the latest)?",
)

# A qualifier after a comma says how, not what: it ends the step (", ideally ...").
QUALIFIERS = ["ideally", "preferably", "if possible", "if you can", "where possible"]

RULES = compile_rules(LanguageWords(
    code="en",
    user={
        "next_step": [
            r"(?:my |the )?next steps? (?:for me )?(?:is to|is|are)\s*:?",
            r"(?:my |the )?next steps?(?: for me)?\s*[:\-–]",
            r"note to self\s*:",
            r"to-?do\s*:",
            r"remind me to",
            r"(?:I )?(?:must|need to|have to|should|will|'ll) remember to",
            r"(?:I )?(?:mustn't|must not|shouldn't|should not|can't|cannot|won't|will not) forget to",
        ],
        "commitment": [
            rf"I(?:'ll| will| shall) {ADVERB}(?:need|have) to",
            rf"I(?:'ll| will| shall) {ADVERB}",
            rf"I(?:'m| am) {ADVERB}(?:going|planning|gonna) to",
            r"I(?:'m| am) gonna",
            rf"I {ADVERB}(?:need|have|ought|plan|intend|promised) to",
            r"I've got to",
            rf"I {ADVERB}(?:must|should)(?! have\b)",
            r"I(?:'d| had) better",
        ],
    },
    assistant={
        "recap": [r"(?:to recap|recap|in summary|summary)\s*:"],
        "next_step": [
            enumerated(["first(?:ly)?", "second(?:ly)?", "third(?:ly)?", "fourth(?:ly)?", "finally", "lastly"],
                       ["the", "a", "an", "this", "that", "it", "there", "we", "you", "he", "she", "they"]),
            r"(?:your |the )?next steps? for you (?:is to|is|are)\s*:?",
            r"(?:your |the )?next steps? for you\s*[:\-–]",
            r"your next steps? (?:is to|is|are)\s*:?",
            rf"(?:your |the )?next steps?{A_FEW_WORDS}\s*:",
            r"(?:your |the )?next steps?\s*[\-–]",
            r"(?:as a )?reminder\s*:",
            r"to-?do(?: for you)?\s*:",
            NOT_AFTER_I + r"(?:please )?remember to",
            NOT_AFTER_I + r"(?:please )?(?:don't|do not) forget to",
            NOT_AFTER_I + r"(?:please )?make sure (?:to|that you|you)",
        ],
        "commitment": [
            rf"you(?:'ll| will) {ADVERB}(?:need|have) to",
            rf"you {ADVERB}(?:need|have|ought) to",
            r"you(?:'ve| have) got to",
            r"you must",
        ],
        "suggestion": [
            r"you should(?! have\b)",
            r"you(?:'d| would) (?:better|want to)",
            r"you(?:'ll| will) want to",
            r"you could",
            r"I (?:recommend|suggest) (?:that )?you",
        ],
    },
    filler=["and", "also", "then", "first", "just", "still", "please", "so", "now", "ok", "okay"],
    leading=["to", "go ahead and", "try to", "remember to", "(?:don't|not) forget to", "make sure (?:to|that I|I)",
             "I(?:'ll| will) (?:need|have) to", "I(?:'ll| will)", "I (?:need to|have to|must|should)"],
    first_person=["I", "we", "let me", "let's", "let us"],
    clause_words=["but", "because", "since", "unless", "so that", "so I can", "which", "otherwise", "or else"],
    comma_clause_words=[r"e\.g\.", "for example", "for instance", *QUALIFIERS],
    trailing=["and", "or", "then", "at the latest"],
    vague=["be", "you", "it", "do (?:it|that|this)", "think about it", "see (?:if|what|how|whether)", "let you know",
           "keep you (?:posted|updated)", "get back to you", "(?:need|want|ask|let) you", "would like you",
           r"\w+ (?:it|that|this|them)\W*$"],
    heading_intro=["here are", "here is", "these are"],
    heading_owners=["your", "my", "the"],
    heading_names=["next steps?", "action items?", "to-?dos?", "to-?do list"],
    heading_for="for (?:you|me)",
    deadline_words=["before", "ahead of", "by"],
    restating_words=[r"i\.e\.", "that is", "namely"],
    # A verb first, then its object's determiner or a particle ("Export every mailbox", "Turn off the water").
    imperative=r"[a-z]+(?=\s+(?:the|a|an|your|my|our|their|his|her|it|them|this|that|these|those|some|any|both"
               r"|every|each|everything|off|up|out|down|back|over|ahead)\b)",
    # "I'll never sign that contract".
    negation_after=["never", "not"],
    call_off=[r"(?:there's |there is )?no (?:more )?need to", r"(?:I|we) (?:don't|do not|no longer) (?:need|have) to",
              r"(?:I|we) won't(?: need to| have to)?", r"(?:I|we)(?:'m| am|'re| are) not (?:going to|gonna)",
              r"forget(?: about)?(?! to\b)", r"scratch that", r"cancel (?:that|the plan to)"],
    reminder_request=[r"remind me to"],
    not_imperative=[
        "I", "you", "we", "they", "he", "she", "it", "this", "that", "these", "those", "there", "here", "the", "a",
        "an", "my", "your", "our", "their", "his", "her", "its", "if", "when", "once", "after", "before", "since",
        "as", "so", "but", "and", "or", "then", "also", "just", "all", "both", "each", "every", "some", "any",
        "what", "which", "who", "how", "why", "where", "is", "are", "was", "were", "be", "been", "do", "does", "did",
        "have", "has", "had", "can", "could", "will", "would", "should", "must", "may", "might", "let", "keep",
        "note", "see", "feel", "thanks", "thank", "enjoy", "good", "great", "nice", "perfect", "sure", "yes", "no",
        "ok", "okay", "glad", "sorry", "happy", "hope", "most", "many", "much", "half", "one", "for", "with", "in",
        "on", "at", "by", "from", "about", "of", "to", "into", "during", "until", "without", "given", "like",
        "because", "while", "though", "although", "even", "only", "not", "never", "always", "usually", "often",
        "sounds", "looks", "seems", "makes", "takes", "gets", "means", "imagine", "wow", "hey", "hi", "hello",
        "welcome", "congrats", "congratulations", "cheers", "both", "either", "neither", "such", "bring it on",
        "take care", "good luck", "fingers crossed", "mind",
    ],
    object_pronouns=["it", "them", "him"],
    conjunction="and",
    dates=DATES,
))
