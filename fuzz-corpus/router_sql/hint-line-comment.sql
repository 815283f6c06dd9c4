SELECT * FROM orders -- shardwire: user_id=9
 WHERE total > 5