"""Raw-SQL data access: each function runs named queries from `sql/queries/` on the pool."""
