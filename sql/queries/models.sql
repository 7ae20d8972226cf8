-- name: placeholder_models
-- Filled by the model store (registry queries).
SELECT 1
