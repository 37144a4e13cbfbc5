"""Former home of the sweep queries, now in store.users, store.scheduling, store.events and store.paging.

Kept only so that callers not yet moved still import; new code imports the modules named above.
"""

from store.events import (  # noqa: F401
    EventRow,
    insert_event,
    insert_events,
    read_event,
    read_events,
    replace_event_payload,
    set_event_payload,
)
from store.paging import MAX_PAGES, PagingError, keyset_pages  # noqa: F401
from store.scheduling import (  # noqa: F401
    EmailTodoRow,
    OverdueTodo,
    TodoDetails,
    append_scheduling,
    email_todos,
    is_open,
    newest_scheduling_id,
    open_todo_counts,
    overdue_todos,
    overdue_todos_page,
    todo_details,
    upcoming_open_todos,
)
from store.users import (  # noqa: F401
    UTC,
    LocalWindow,
    UserRow,
    distinct_timezones,
    user_ids_page,
    users_by_id,
    users_for_sweep,
    users_in_local_window,
    zone_or_utc,
    zones_in_window,
)
