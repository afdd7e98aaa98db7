package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Version is what Dokja tells MCP peers it is.
const Version = "0.1"

// ConnectMCP connects to an MCP server: an http:// or https:// URL is a
// streamable HTTP endpoint; anything else is a command line (split at
// spaces; for quoting, give "sh -c '...'"), started with the server on
// its stdin and stdout.
func ConnectMCP(ctx context.Context, spec string) (*mcp.ClientSession, error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "dokja-agent", Version: Version}, nil)
	var t mcp.Transport
	if strings.HasPrefix(spec, "http://") || strings.HasPrefix(spec, "https://") {
		t = &mcp.StreamableClientTransport{Endpoint: spec, MaxRetries: -1}
	} else {
		args := strings.Fields(spec) // quoting: run it through sh -c
		if len(args) == 0 {
			return nil, fmt.Errorf("MCP server %q: want a URL or a command line", spec)
		}
		t = &mcp.CommandTransport{Command: exec.Command(args[0], args[1:]...)}
	}
	s, err := client.Connect(ctx, t, nil)
	if err != nil {
		return nil, fmt.Errorf("MCP server %s: %w", spec, err)
	}
	return s, nil
}

// MCPTools lists a session's tools as agent tools that call them.
func MCPTools(ctx context.Context, s *mcp.ClientSession) ([]Tool, error) {
	var tools []Tool
	for t, err := range s.Tools(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("listing MCP tools: %w", err)
		}
		params, err := json.Marshal(t.InputSchema)
		if err != nil {
			return nil, fmt.Errorf("MCP tool %s: input schema: %w", t.Name, err)
		}
		name := t.Name
		tools = append(tools, Tool{
			Name:        name,
			Description: t.Description,
			Parameters:  params,
			Call: func(ctx context.Context, args json.RawMessage) (string, error) {
				res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
				if err != nil {
					return "", err
				}
				text := contentText(res.Content)
				if res.StructuredContent != nil {
					// The structured result, without the HTML escapes
					// (\u003c for <) a model would have to read through.
					var b bytes.Buffer
					enc := json.NewEncoder(&b)
					enc.SetEscapeHTML(false)
					if enc.Encode(res.StructuredContent) == nil {
						text = strings.TrimSpace(b.String())
					}
				}
				if res.IsError {
					return "", errors.New(text)
				}
				return text, nil
			},
		})
	}
	return tools, nil
}

// contentText joins a result's text parts; other parts are named.
func contentText(parts []mcp.Content) string {
	var b strings.Builder
	for _, c := range parts {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		switch c := c.(type) {
		case *mcp.TextContent:
			b.WriteString(c.Text)
		default:
			fmt.Fprintf(&b, "[%T]", c)
		}
	}
	return b.String()
}
