"""The rule engine behind the offline LLM block: no model, deterministic, per language.

- dates: calendar arithmetic (working days) and date-phrase resolvers
- engine: what one language's rules hold, and how trigger regexes compile
- languages/: one module of rules per language (en, fr, de)
- text: line and sentence splitting, and the normalizer that decides when two todos are the same
- extract: finding next steps in a conversation
- reschedule: the quietest-working-day rule
- mail_writer: the daily email's words in each language
- boilerplate: the offline relevance check of website chunks
"""
