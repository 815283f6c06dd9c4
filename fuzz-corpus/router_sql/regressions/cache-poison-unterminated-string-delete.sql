DELETE FROM users WHERE user_id = '5
-- 8< next query, same router >8 --
DELETE FROM users WHERE user_id = '7'