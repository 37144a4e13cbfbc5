"""The application database: models, migrations, sessions and the queries that select work."""
