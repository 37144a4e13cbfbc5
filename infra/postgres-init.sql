-- The application database of nightshift, beside Prefect's own ("prefect", POSTGRES_DB).
CREATE DATABASE nightshift OWNER prefect;
