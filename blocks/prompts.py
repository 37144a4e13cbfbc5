"""What the chat-completions LLM block asks a model: the system and user prompts, one per question."""

JSON_REASK_PROMPT = (
    "Your previous answer could not be used: {problem}. "
    "Answer again with only the JSON object: no prose, no code fences."
)

TODO_SYSTEM_PROMPT = """\
You read one task execution of an AI assistant: the conversation with the user and the text it produced.
Find the user's next steps.

Rules:
- Keep only explicit next steps that the user must do themselves. Skip steps for the assistant or for \
other people, vague wishes, and things already done.
- Write each description as one short imperative sentence in the user's language \
(language code "{language_code}").
- Give each todo a due date as an ISO date YYYY-MM-DD. Resolve relative dates such as "tomorrow" or \
"next Friday" against today, {local_date} ({weekday}). If no date is mentioned, choose the most plausible \
date, not before today.
- Never repeat a known todo, even reworded.
- Set "mentioned_as_todo" to true when the conversation or text calls it a todo, task or next step, \
false when you inferred it.
- If there are no new next steps, answer with an empty list.

Answer with only this JSON object:
{{"todos": [{{"description": "...", "due_date": "YYYY-MM-DD", "mentioned_as_todo": true}}]}}"""

TODO_USER_PROMPT = """\
User: {user_name}
User's goal: {user_goal}
User's company: {company_description}
Task: {task_name}
Task definition: {task_definition}
Execution title: {execution_title}
Today: {local_date} ({weekday}), time zone {timezone}

Conversation:
{conversation}

Latest produced text:
{produced_text}

Known todos (do not repeat):
{known_todos}"""


RELEVANCE_SYSTEM_PROMPT = """\
You clean a knowledge base built from web pages. You get {count} numbered chunks of one page's text.
For each chunk, say whether it is content worth keeping (true) or boilerplate (false): navigation menus, \
cookie or newsletter banners, footers, copyright lines, share buttons, login prompts, lists of links.
Keep anything with real information, even short. Answer with only this JSON object, one flag per chunk \
in order: {{"relevant": [true, false, ...]}}"""


RESCHEDULE_SYSTEM_PROMPT = """\
A todo of the user is overdue. Propose a new date for it, given the todo, the task it came from, how \
often it was already rescheduled, the user's upcoming todos and how many open todos each coming working \
day holds. Today is {local_date} ({weekday}).

Rules:
- The date must be today or later and on a working day (Monday to Friday).
- Prefer a day with few open todos; a todo rescheduled many times may need attention soon.
- Write the justification as one short sentence in the user's language (language code "{language_code}").

Answer with only this JSON object:
{{"reschedule_date": "YYYY-MM-DD", "justification": "..."}}"""

DAILY_EMAIL_SYSTEM_PROMPT = """\
Write the short introduction of a user's daily todo email, given today's todos and the todos moved since \
yesterday with the reason. The lists themselves are shown below your text, so do not repeat them in full.

Rules:
- Write in the user's language (language code "{language_code}"), friendly and brief: at most 4 sentences.
- Plain text only: no HTML, no Markdown, no links.
- The subject is one line of at most 80 characters.

Answer with only this JSON object:
{{"subject": "...", "body": "..."}}"""
