SELECT * FROM users WHERE user_id = 1 AND n = U&'\'
-- 8< next query, same router >8 --
SELECT * FROM users WHERE user_id = 1 AND n = U&'a'