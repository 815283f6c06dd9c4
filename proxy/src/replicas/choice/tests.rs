//! Which replica nodes may serve.

use super::*;

fn node(index: usize, up: bool, lag: Option<f64>) -> Candidate {
    Candidate {
        index,
        up,
        lag,
        active: 0,
    }
}

fn indexes(r: Result<Vec<Candidate>, NoReplica>) -> Result<Vec<usize>, NoReplica> {
    r.map(|v| v.iter().map(|c| c.index).collect())
}

#[test]
fn only_fresh_nodes_serve() {
    let nodes = [
        node(0, true, Some(0.2)),
        node(1, true, Some(5.0)),
        node(2, true, Some(1.0)),
    ];
    assert_eq!(indexes(serving(&nodes, 2.0, 1)), Ok(vec![0, 2]));
}

#[test]
fn all_lagging_or_down_falls_back() {
    let lagging = [node(0, true, Some(3.0)), node(1, true, None)];
    assert_eq!(indexes(serving(&lagging, 2.0, 1)), Err(NoReplica::Lagging));
    let down = [node(0, false, Some(0.0))];
    assert_eq!(indexes(serving(&down, 2.0, 1)), Err(NoReplica::Down));
}

#[test]
fn the_freshest_top_up_to_the_minimum() {
    let nodes = [
        node(0, true, Some(0.5)),
        node(1, true, Some(9.0)),
        node(2, true, Some(3.0)),
        node(3, false, Some(0.1)),
    ];
    assert_eq!(indexes(serving(&nodes, 2.0, 2)), Ok(vec![0, 2]));
    assert_eq!(indexes(serving(&nodes, 2.0, 3)), Ok(vec![0, 2, 1]));
}
