UPDATE users SET n = 1 WHERE user_id = '5
-- 8< next query, same router >8 --
UPDATE users SET n = 1 WHERE user_id = '7'