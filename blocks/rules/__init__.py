"""The rule engine behind the offline LLM block: no model, deterministic, per language.

- dates: calendar arithmetic (working days) and date-phrase resolvers
- engine: what one language's rules hold, and how its words and phrases compile into them
- languages/: one module of words and phrases per language (en, fr, de, es, it)
- text: line and sentence splitting, and the normalizer that decides when two todos are the same
- extract: finding next steps in a conversation
- reschedule: the quietest-working-day rule
- mail_writer: the daily email's words in each language
- boilerplate: the offline relevance check of website chunks
"""
