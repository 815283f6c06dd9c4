SELECT * FROM users WHERE name = 'x
-- 8< next query, same router >8 --
SELECT * FROM users WHERE name = 'x'